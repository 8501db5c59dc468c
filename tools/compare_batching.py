"""Batch settings side by side: one TorchServe serves each family under several (batchSize,
maxBatchDelay) settings at once, and the same load visits each setting in turn.

    .venv/bin/python -m tools.compare_batching [FAMILY ...] [--requests 300] [--rounds 2]

Each setting is the family's archive under another name (<family>_b<size>_d<delay>),
with only those two numbers changed. Rounds alternate the settings, so a busy
machine slows them all alike: compare the ratios, not the times. Prints a
Markdown table per concurrency: requests/s, p50 and p99.
"""

import argparse
import dataclasses
import json
import tempfile
import zipfile
from pathlib import Path

import yaml

from harness.archives import build_store
from harness.examples import calls_for, hook
from harness.load import Load, percentile
from harness.settings import model_families
from harness.torchserve import running_server

CONCURRENCY = (1, 16)  # a lone client (what the delay costs) and a busy one (what batching buys)


def settings_of(family) -> list:
    """Family → the (batchSize, maxBatchDelay ms, format) to compare, from families/<family>.py;
    the first is no batching."""
    return hook(family, "BATCH_SETTINGS", [])


def variant_name(family, size, delay, model_format) -> str:
    return f"{family}_b{size}_d{delay}_{model_format}"


def write_variant(archive: Path, target_dir: Path, family, size, delay, model_format) -> Path:
    """A family's .mar → a copy in target_dir named for (size, delay, format), with those batch
    settings in its yaml."""
    name = variant_name(family, size, delay, model_format)
    target = target_dir / f"{name}.mar"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "MAR-INF/MANIFEST.json":
                manifest = json.loads(data)
                manifest["model"]["modelName"] = name
                data = json.dumps(manifest).encode()
            elif item.filename == f"{family}.yaml":
                config = yaml.safe_load(data)
                config.update(batchSize=size, maxBatchDelay=delay, minWorkers=1, maxWorkers=1)
                data = yaml.safe_dump(config).encode()
            out.writestr(item, data)
    return target


def measure(server, calls, concurrency) -> dict:
    """Calls at a concurrency → {"rps", "p50", "p99", "wrong"}."""
    load = Load(server, calls, concurrency)
    outcomes = load.run()
    seconds = [o.seconds for o in outcomes]
    return {"rps": len(outcomes) / load.elapsed, "p50": percentile(seconds, 0.5),
            "p99": percentile(seconds, 0.99), "wrong": sum(not o.ok for o in outcomes)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="*", help="default: every family with BATCH_SETTINGS")
    parser.add_argument("--requests", type=int, default=300, help="per setting, round and concurrency")
    parser.add_argument("--rounds", type=int, default=2, help="passes over all settings (default 2)")
    args = parser.parse_args()
    families = args.families or [f for f in model_families() if settings_of(f)]
    with tempfile.TemporaryDirectory(prefix="batching-") as folder:
        formats = {s[2] for f in families for s in settings_of(f)}
        built = {model_format: build_store(
                     Path(folder) / model_format,
                     [f for f in families if any(s[2] == model_format for s in settings_of(f))],
                     model_format=model_format)
                 for model_format in formats}
        store = Path(folder) / "store"
        store.mkdir()
        for family in families:
            for size, delay, model_format in settings_of(family):
                write_variant(built[model_format] / f"{family}.mar", store, family, size, delay,
                              model_format)
        (Path(folder) / "server").mkdir()
        with running_server(Path(folder) / "server", store, ready_timeout_s=600) as server:
            results = {}
            for family in families:
                good, _ = calls_for(family)
                for name in [variant_name(family, *s) for s in settings_of(family)]:
                    calls = [dataclasses.replace(c, model=name) for c in good]
                    Load(server, calls * 2, 4).run()  # warm-up
                for round_ in range(args.rounds):
                    for concurrency in CONCURRENCY:
                        for size, delay, model_format in settings_of(family):
                            name = variant_name(family, size, delay, model_format)
                            calls = [dataclasses.replace(good[i % len(good)], model=name)
                                     for i in range(args.requests)]
                            results.setdefault((name, concurrency), []).append(
                                measure(server, calls, concurrency))
    for concurrency in CONCURRENCY:
        print(f"\nconcurrency {concurrency} ({args.rounds} rounds × {args.requests} requests, "
              "medians of the rounds' figures)\n")
        print("| setting | requests/s | p50 ms | p99 ms | wrong |\n|---|---:|---:|---:|---:|")
        for family in families:
            for size, delay, model_format in settings_of(family):
                runs = results[(variant_name(family, size, delay, model_format), concurrency)]
                mid = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
                print(f"| {family} b{size} d{delay} {model_format} | {mid['rps']:.0f} | {mid['p50'] * 1000:.1f} | "
                      f"{mid['p99'] * 1000:.1f} | {sum(r['wrong'] for r in runs)} |")


if __name__ == "__main__":
    main()
