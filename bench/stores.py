"""Model stores for the benchmark: each model with batching on or off, and a no-op twin of each.

Batching on is the tuned setting in model-config/<model>.yaml; off is the same
file with batchSize 1. The no-op twin `noop_<model>` ships the same yaml, so it
is served with the same batching and workers, but answers a constant.
"""

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def checkpoint(model) -> Path:
    """Model → its trained checkpoint: checkpoints/<model>/model.pt, or under $BENCH_CHECKPOINTS
    (python -m bench --checkpoints DIR sets it, so the LitServe peer process sees it too)."""
    return Path(os.environ.get("BENCH_CHECKPOINTS") or ROOT / "checkpoints") / model / "model.pt"
NOOP_HANDLER = Path(__file__).resolve().parent / "noop_handler.py"


def noop_name(model) -> str:
    return f"noop_{model}"


def settings(model, config_dir=ROOT / "model-config") -> dict:
    """Model → its serving settings from model-config/<model>.yaml."""
    return yaml.safe_load((Path(config_dir) / f"{model}.yaml").read_text()) or {}


def model_format(model, chosen=None) -> str:
    """Model and the format asked for (None: not asked) → the format archive.sh will package it in:
    the one asked for, else model-config's handler.format, else eager."""
    return chosen or (settings(model).get("handler") or {}).get("format") or "eager"


def config_dir(folder, models, batching: bool) -> Path:
    """The repository's model-config files for `models`, with batchSize 1 when batching is off."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for model in models:
        text = (ROOT / "model-config" / f"{model}.yaml").read_text()
        if not batching:
            values = yaml.safe_load(text)
            values["batchSize"] = 1
            text = yaml.safe_dump(values, sort_keys=False)
        (folder / f"{model}.yaml").write_text(text)
    return folder


def _env() -> dict:
    # archive.sh and the archiver must be this interpreter's.
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def build_store(store, models, configs, archive_args=()) -> Path:
    """Models, a model-config folder and extra archive.sh options (say ["--format", "int8"]) →
    `store` with <model>.mar and noop_<model>.mar for each."""
    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(ROOT / "archive.sh"), "--checkpoints", str(checkpoint(models[0]).parent.parent),
                    "--model-store", str(store), "--model-config", str(configs), *archive_args,
                    *models], cwd=ROOT, check=True, timeout=900, env=_env(),
                   stdout=subprocess.DEVNULL)
    for model in models:
        subprocess.run(["torch-model-archiver", "--model-name", noop_name(model), "--version", "1",
                        "--handler", str(NOOP_HANDLER),
                        "--config-file", str(Path(configs) / f"{model}.yaml"),
                        "--export-path", str(store), "--force"],
                       cwd=ROOT, check=True, timeout=300, env=_env())
    return store
