"""What TorchServe's logging costs a request: the repository's log4j2.xml against TorchServe's
built-in configuration, on two servers up side by side, in alternating rounds.

    python -m bench.logging_cost                  # the benchmark's family and its no-op twin
    python -m bench.logging_cost --rounds 6 --seconds 3

Both servers serve the same archives (a model and its no-op twin, batching on, one worker) with
the repository's config.properties; one of them without vmargs, so that TorchServe falls back
to the configuration inside its jar. Each round loads each server in turn at c=64 and reads
the CPU seconds the Java frontend spent per answered request, which is where the log lines are
written, beside the requests per second. Writes bench/results/logging-<timestamp>.json.
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
from harness.torchserve import running_server

CONFIGS = {"repository log4j2.xml": {}, "built-in": {"vmargs": ""}}


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=BENCHMARKED, help="the family served (default: the "
                        "benchmark's)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=2.5, help="seconds of load per figure")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    return parser.parse_args()


def main():
    args = arguments()
    model = args.model
    plan = {kind: calls for kind, body, calls in targets(model) if body == "sample"}
    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench-logging-") as folder, ExitStack() as stack:
        folder = Path(folder)
        store = build_store(folder / "store", [model], config_dir(folder / "model-config",
                                                                  [model], True))
        servers = {}
        for name, overrides in CONFIGS.items():
            workdir = folder / name.replace(" ", "-")
            workdir.mkdir()
            servers[name] = Served(stack.enter_context(
                running_server(workdir, store, ready_timeout_s=300, **overrides)))
        for served in servers.values():
            jit.warm_up(served, list(plan.values()))
        for index in range(args.rounds):
            order = list(servers) if index % 2 == 0 else list(reversed(servers))
            for name in order:
                for kind, calls in plan.items():
                    point = servers[name].measure(calls, args.seconds, 0.3)
                    figure = {"round": index, "config": name, "kind": kind,
                              "throughput": point["throughput"], "wrong": point["wrong"],
                              "frontend_us_per_request": 1e6 * point["cores_busy"]["frontend"]
                              / max(point["throughput"], 1e-9),
                              "cores_busy": point["cores_busy"]}
                    rounds.append(figure)
                    print(f"  round {index} {name:22} {kind:12} {figure['throughput']:7.0f}/s  "
                          f"frontend {figure['frontend_us_per_request']:5.0f} µs CPU/request",
                          flush=True)
        lines = {name: len(served.server.log_lines()) for name, served in servers.items()}
    summary = {}
    for name in CONFIGS:
        for kind in plan:
            mine = [r for r in rounds if r["config"] == name and r["kind"] == kind]
            summary[f"{name}, {kind}"] = {
                "throughput": statistics.median(r["throughput"] for r in mine),
                "frontend_us_per_request": statistics.median(r["frontend_us_per_request"]
                                                             for r in mine)}
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"logging-{stamp}.json"
    path.write_text(json.dumps({"model": model, "no-op twin": noop_name(model),
                                "rounds": rounds, "medians": summary,
                                "ts_log_lines": lines}, indent=1))
    print(f"\nmedians over {args.rounds} rounds, c=64, batching on, 1 worker:")
    for key, figures in summary.items():
        print(f"  {key:45} {figures['throughput']:7.0f}/s  frontend "
              f"{figures['frontend_us_per_request']:5.0f} µs CPU/request")
    print(f"ts_log.log lines: {lines}\nwrote {path}")
    wrong = sum(r["wrong"] for r in rounds)
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
