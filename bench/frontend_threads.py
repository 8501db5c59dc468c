"""Where TorchServe's Java frontend spends its CPU, thread by thread, per answered request: each
model served and its no-op twin, at c=64 with batching on.

    python -m bench.frontend_threads --model sentiment_rnn --model digits_gan [--workers 1]

With one worker, the worker waits while the frontend's worker thread answers a batch's clients
and hands it the next batch: that thread's CPU per batch is serial with the handler, and is
part of the per-batch trip that keeps served throughput under the composite bound
(docs/tuning.md). The threads are named with jstack where a JDK has it; without it, a worker's
feeding thread and its output reader share one name in /proc and are counted together.
Writes bench/results/frontend-threads-<timestamp>.json.
"""

import argparse
import re
import tempfile
from pathlib import Path

from bench import java_threads, jit
from bench.server_settings import write_result
from bench.stores import build_store, config_dir, noop_name
from bench.sweep import BENCHMARKED, Served, targets
from harness.settings import ROOT, model_settings
from harness.torchserve import running_server

CONCURRENCY = 64
LINUX_NAME_LENGTH = 15  # /proc cuts thread names to this many characters
# (role, pattern of Java thread names), the first match wins.
ROLES = (
    ("worker output reader (its log and metric lines)", r"^W-\d+-.*-(stdout|stderr)$"),
    ("worker thread (answers a batch, hands over the next)", r"^W-\d+-.+$"),
    ("Netty event loops (HTTP and worker sockets)", r"^(epoll|nio)EventLoopG"),  # /proc's cut too
    ("access log writer", r"AsyncAppender"),
    ("JIT compilers", r"^C\d CompilerThre"),
    ("garbage collection and safepoints", r"^(GC Thread|G1 |VM Thread)"),
)
UNNAMED_WORKER = "worker thread and output reader (no jstack to tell them apart)"


def role(name) -> str:
    """A thread's name (Java's, or /proc's cut to 15 characters) → the part it plays."""
    if len(name) == LINUX_NAME_LENGTH and re.match(r"^W-\d+-", name):
        return UNNAMED_WORKER
    return next((part for part, pattern in ROLES if re.search(pattern, name)), "other")


def per_request(before, after, names, answered) -> dict:
    """thread_seconds() before and after a load, Java names and the answers it got → {role: µs
    of CPU per answer}; threads started meanwhile count from 0."""
    found = {}
    for thread, (name, seconds) in after.items():
        spent = seconds - before.get(thread, (name, 0.0))[1]
        part = role(names.get(thread, name))
        found[part] = found.get(part, 0.0) + spent
    return {part: 1e6 * spent / answered for part, spent in
            sorted(found.items(), key=lambda item: -item[1])} if answered else {}


def measure(served, calls, seconds) -> dict:
    """Load at c=64 → {"throughput", "roles": per_request()} for the server's frontend."""
    pid = served.server.frontend().pid
    served.load(calls, 1.0, CONCURRENCY)
    names = java_threads.java_names(pid)
    before = java_threads.thread_seconds(pid)
    point = served.measure(calls, seconds, 0, CONCURRENCY)
    after = java_threads.thread_seconds(pid)
    if before is None or after is None:
        return {"throughput": point["throughput"], "roles": {}, "wrong": point["wrong"]}
    answered = point["throughput"] * point["seconds"]
    return {"throughput": point["throughput"], "wrong": point["wrong"],
            "roles": per_request(before, after, names, answered)}


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", dest="models",
                        help="a family to serve (again for more; default: the benchmark's)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds of load per figure")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    return parser.parse_args()


def main():
    args = arguments()
    models = args.models or [BENCHMARKED]
    figures = []
    with tempfile.TemporaryDirectory(prefix="bench-threads-") as folder:
        folder = Path(folder)
        configs = config_dir(folder / "model-config", models, True)
        store = build_store(folder / "store", models, configs)
        (folder / "server").mkdir()
        with running_server(folder / "server", store, ready_timeout_s=300) as server:
            served = Served(server)
            plans = {model: {kind: calls for kind, body, calls in targets(model)
                             if body == "sample"} for model in models}
            for model in models:
                for name in (model, noop_name(model)):
                    server.scale(name, args.workers)
            jit.warm_up(served, [calls for plan in plans.values() for calls in plan.values()])
            for model in models:
                size = int(model_settings(model, configs).get("batchSize", 1))
                for kind, calls in plans[model].items():
                    figure = {"model": model, "kind": kind, "batch_size": size,
                              "workers": args.workers, **measure(served, calls, args.seconds)}
                    figures.append(figure)
                    print(f"\n{model} {kind}: {figure['throughput']:.0f} answers/s, frontend CPU "
                          f"per answer and per batch of {size}:")
                    for part, micros in figure["roles"].items():
                        if micros >= 0.5:
                            print(f"  {part:55} {micros:7.1f} µs {micros * size:8.0f} µs")
    path = write_result(args.out, "frontend-threads", {"models": models, "workers": args.workers,
                                                       "figures": figures})
    print(f"\nwrote {path}")
    return 1 if any(figure["wrong"] for figure in figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
