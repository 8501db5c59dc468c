"""Checkpoints → the folder KServe's TorchServe runtime reads from a storage URI.

    make kserve-bundle, or
    python -m tools.kserve_bundle [--out build/kserve-bundle] [--checkpoints DIR] [MODEL ...]

writes

    OUT/config/config.properties   deploy/kserve/config.properties + model_snapshot (models to load)
    OUT/config/metrics.yaml        the metrics TorchServe exports (metrics_config points here)
    OUT/config/log4j2.xml          TorchServe's logging (vmargs points here)
    OUT/model-store/<model>.mar    built by archive.sh

KServe's storage initializer copies the storage URI to /mnt/models, and the
runtime starts TorchServe with --ts-config /mnt/models/config/config.properties.
Each model's workers and batching come from model-config/<model>.yaml, into the
snapshot and into the archive, with torch threads sized for the pod's CPU limit
in deploy/kserve/inferenceservice.yaml.
"""

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from handlers.hardware import worker_threads
from harness.archives import build_store
from harness.settings import ROOT, archive_manifest, model_families, model_settings

DEPLOY = ROOT / "deploy" / "kserve"
CONFIG_TEMPLATE = DEPLOY / "config.properties"
INFERENCE_SERVICE = DEPLOY / "inferenceservice.yaml"
# Where KServe mounts the storage URI in the pod.
MOUNT = "/mnt/models"
SNAPSHOT_SETTINGS = ("minWorkers", "maxWorkers", "batchSize", "maxBatchDelay", "responseTimeout",
                     "startupTimeout")


def pod_cpus(manifest=INFERENCE_SERVICE) -> int:
    """InferenceService manifest → the predictor's CPU limit, in whole CPUs (at least 1)."""
    service = yaml.safe_load(Path(manifest).read_text())
    cpu = str(service["spec"]["predictor"]["model"]["resources"]["limits"]["cpu"])
    cores = int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
    return max(1, math.floor(cores))


def pod_model_config(settings: dict, cpus: int) -> dict:
    """A model's model-config settings → the same, with torch threads per worker for `cpus` CPUs.

    Inside a container the worker sees the node's cores, not the pod's limit,
    so the bundle states the thread count instead of leaving it to the handler.
    """
    handler = dict(settings.get("handler") or {})
    handler["torch_threads"] = worker_threads(settings, cpus)
    return {**settings, "handler": handler}


def write_model_configs(models, folder: Path, cpus: int):
    """model-config/<model>.yaml for each model → folder/<model>.yaml sized for the pod."""
    for model in models:
        source = ROOT / "model-config" / f"{model}.yaml"
        settings = pod_model_config(model_settings(model), cpus)
        (folder / f"{model}.yaml").write_text(
            f"# {source.relative_to(ROOT)} for a KServe pod with {cpus} CPU(s); written by "
            "tools/kserve_bundle.py.\n" + yaml.safe_dump(settings, sort_keys=False))


def model_snapshot(model_store: Path, model_config: Path) -> dict:
    """Archives and their model-config → TorchServe's model_snapshot: each model, its version, its
    archive and its workers and batching (the snapshot's settings win over the archive's)."""
    models = {}
    for archive in sorted(model_store.glob("*.mar")):
        model = archive_manifest(archive)["model"]
        settings = model_settings(model["modelName"], model_config)
        entry = {"defaultVersion": True, "marName": archive.name}
        entry.update({key: settings[key] for key in SNAPSHOT_SETTINGS if key in settings})
        entry.setdefault("minWorkers", 1)
        entry.setdefault("maxWorkers", entry["minWorkers"])
        models[model["modelName"]] = {model["modelVersion"]: entry}
    return {"name": "startup.cfg", "modelCount": len(models), "models": models}


def build(out: Path, checkpoints: Path, models: list, manifest=INFERENCE_SERVICE) -> Path:
    """Checkpoints → the bundle in `out` (replaced if there); returns `out`."""
    out = Path(out)
    shutil.rmtree(out, ignore_errors=True)
    (out / "config").mkdir(parents=True)
    cpus = pod_cpus(manifest)
    with tempfile.TemporaryDirectory() as model_config:
        model_config = Path(model_config)
        write_model_configs(models, model_config, cpus)
        build_store(out / "model-store", models, checkpoints, model_config=model_config)
        snapshot = model_snapshot(out / "model-store", model_config)
    # Java properties: the JSON stays on one line; its ':' and '=' are fine after the first '='.
    (out / "config" / "config.properties").write_text(
        CONFIG_TEMPLATE.read_text().rstrip("\n") + "\n\n"
        "# The models to load at start, written by tools/kserve_bundle.py from the archives and\n"
        "# model-config/. KServe's wrapper reads the model names from this line too.\n"
        f"model_snapshot={json.dumps(snapshot, separators=(',', ':'))}\n")
    shutil.copy(ROOT / "metrics.yaml", out / "config" / "metrics.yaml")
    shutil.copy(ROOT / "log4j2.xml", out / "config" / "log4j2.xml")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "kserve-bundle",
                        help="bundle folder, replaced if it exists (default: build/kserve-bundle)")
    parser.add_argument("--checkpoints", type=Path, default=ROOT / "checkpoints",
                        help="folder of <model>/model.pt (default: checkpoints)")
    parser.add_argument("models", nargs="*", metavar="MODEL",
                        help="model families to bundle (default: all)")
    args = parser.parse_args(argv)
    models = args.models or model_families()
    unknown = sorted(set(models) - set(model_families()))
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)} "
                     f"(known: {', '.join(model_families())})")
    try:
        out = build(args.out, args.checkpoints, models)
    except subprocess.CalledProcessError:
        shutil.rmtree(args.out, ignore_errors=True)  # no half bundle to upload by mistake
        sys.exit("kserve_bundle: archive.sh failed (its message is above); no bundle written")
    print(f"kserve bundle in {out}: upload the whole folder to the storageUri of "
          f"{INFERENCE_SERVICE.relative_to(ROOT)}")
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        print(f"  {path.relative_to(out)}")


if __name__ == "__main__":
    main()
