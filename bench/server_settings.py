"""TorchServe settings side by side: one server per set of config.properties settings, all up at
once, loaded in alternating rounds, so that a drifting machine slows them all alike.

    python -m bench.server_settings --model digits_gan \\
        --setting parallel_gc vmargs+=-XX:+UseParallelGC \\
        --setting one_netty_thread number_of_netty_threads=1 netty_client_threads=1

Every server serves the same archives (the models and their no-op twins, batching on) with the
repository's config.properties, changed only by its setting: KEY=VALUE replaces a property,
KEY+=VALUE appends to it (vmargs), and KEY= empties it. The repository's settings unchanged are
always the first, named "repository". Each round loads every server in turn at c=64 and reads
right answers per second and the CPU seconds the Java frontend spent per answer. Writes
bench/results/settings-<timestamp>.json and prints medians over the rounds.
"""

import argparse
import json
import statistics
import tempfile
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

from bench import jit
from bench.stores import build_store, config_dir, noop_name
from bench.sweep import BENCHMARKED, Served, targets
from harness.settings import ROOT
from harness.torchserve import read_properties, running_server, with_log_config

REPOSITORY = "repository"  # config.properties as it is
CONCURRENCY = 64


def overrides_of(assignments, properties=None) -> dict:
    """["KEY=VALUE", "KEY+=VALUE", …] → config.properties overrides; KEY+= appends (after a space)
    to the repository's value of KEY, with vmargs' log4j path made absolute as the servers get it."""
    properties = read_properties(ROOT / "config.properties") if properties is None else properties
    found = {}
    for assignment in assignments:
        key, separator, value = assignment.partition("=")
        if not separator or not key.rstrip("+"):
            raise ValueError(f"{assignment!r} is not KEY=VALUE or KEY+=VALUE")
        if key.endswith("+"):
            key = key[:-1]
            current = found.get(key, properties.get(key, ""))
            if key == "vmargs" and key not in found:
                current = with_log_config(current)
            value = f"{current} {value}".strip()
        found[key] = value
    return found


def compare(models, settings, workers=1, rounds=4, seconds=2.5, log=print,
            jit_warm_up=None) -> tuple:
    """Models and {name: overrides} → (one figure dict per round, setting, model and kind —
    "served" or "server limit", its twin —, {setting: lines in its ts_log.log})."""
    figures = []
    plans = {model: {kind: calls for kind, body, calls in targets(model) if body == "sample"}
             for model in models}
    with tempfile.TemporaryDirectory(prefix="bench-settings-") as folder, ExitStack() as stack:
        folder = Path(folder)
        store = build_store(folder / "store", models, config_dir(folder / "model-config",
                                                                 models, True))
        servers = {}
        for index, (name, overrides) in enumerate(settings.items()):
            workdir = folder / f"server-{index}"
            workdir.mkdir()
            log(f"starting the TorchServe with the settings {name!r}: {overrides or 'none'} …")
            servers[name] = Served(stack.enter_context(
                running_server(workdir, store, ready_timeout_s=300, **overrides)))
        for name, served in servers.items():
            for model in models:
                for served_name in (model, noop_name(model)):
                    served.server.scale(served_name, workers)
            jit.warm_up(served, [calls for plan in plans.values() for calls in plan.values()],
                        log=log, **(jit_warm_up or {}))
        names = list(servers)
        for model in models:
            for index in range(rounds):
                turn = index % len(names)
                for name in names[turn:] + names[:turn]:
                    for kind, calls in plans[model].items():
                        point = servers[name].measure(calls, seconds, 0.3, CONCURRENCY)
                        figure = {"round": index, "setting": name, "model": model, "kind": kind,
                                  "workers": workers, "throughput": point["throughput"],
                                  "wrong": point["wrong"], "problems": point["problems"],
                                  "frontend_us_per_request": 1e6 * point["cores_busy"]["frontend"]
                                  / max(point["throughput"], 1e-9),
                                  "cores_busy": point["cores_busy"]}
                        figures.append(figure)
                        log(f"  round {index} {name:22} {model:13} {kind:12} "
                            f"{figure['throughput']:7.0f}/s  frontend "
                            f"{figure['frontend_us_per_request']:5.0f} µs CPU/request")
        lines = {name: len(served.server.log_lines()) for name, served in servers.items()}
    return figures, lines


def medians(figures) -> dict:
    """compare()'s figures → {(setting, model, kind): {"throughput", "frontend_us_per_request",
    "of_repository"}}: medians over the rounds, and the throughput's share of the repository
    settings' median for the same model and kind (None when those were not measured)."""
    groups = {}
    for figure in figures:
        groups.setdefault((figure["setting"], figure["model"], figure["kind"]), []).append(figure)
    found = {key: {"throughput": statistics.median(f["throughput"] for f in group),
                   "frontend_us_per_request": statistics.median(f["frontend_us_per_request"]
                                                                for f in group)}
             for key, group in groups.items()}
    for (setting, model, kind), figures_of in found.items():
        base = found.get((REPOSITORY, model, kind))
        figures_of["of_repository"] = (figures_of["throughput"] / base["throughput"]
                                       if base and base["throughput"] else None)
    return found


def write_result(out, prefix, result) -> Path:
    """A result dict → out/<prefix>-<timestamp>.json."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{prefix}-{stamp}.json"
    path.write_text(json.dumps(result, indent=1))
    return path


def print_medians(found, rounds, workers):
    print(f"\nmedians over {rounds} rounds, c={CONCURRENCY}, batching on, {workers} worker(s):")
    for (setting, model, kind), figures in found.items():
        share = figures["of_repository"]
        print(f"  {setting:22} {model:13} {kind:12} {figures['throughput']:7.0f}/s"
              + (f" ({share:.2f} of {REPOSITORY})" if share is not None else "")
              + f"  frontend {figures['frontend_us_per_request']:5.0f} µs CPU/request")


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", dest="models",
                        help="a family to serve (again for more; default: the benchmark's)")
    parser.add_argument("--setting", action="append", nargs="+", default=[],
                        metavar=("NAME", "KEY=VALUE"),
                        help="a name and the config.properties changes of one more server")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=2.5, help="seconds of load per figure")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    if any(len(setting) < 2 for setting in args.setting):
        parser.error("--setting takes a name and at least one KEY=VALUE")
    return args


def main():
    args = arguments()
    models = args.models or [BENCHMARKED]
    settings = {REPOSITORY: {}}
    for name, *assignments in args.setting:
        settings[name] = overrides_of(assignments)
    figures, lines = compare(models, settings, args.workers, args.rounds, args.seconds)
    found = medians(figures)
    path = write_result(args.out, "settings", {
        "models": models, "workers": args.workers, "settings": settings, "rounds": figures,
        "medians": [{"setting": s, "model": m, "kind": k, **v} for (s, m, k), v in found.items()],
        "ts_log_lines": lines})
    print_medians(found, args.rounds, args.workers)
    print(f"wrote {path}")
    return 1 if any(figure["wrong"] for figure in figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
