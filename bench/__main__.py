"""Run the benchmark → bench/results/<timestamp>.json, docs/performance.md and its plots.

    python -m bench                       # every model; about 17 minutes on 2 cores
    python -m bench --quick --out DIR     # tiny durations, few points: checks the harness only
    python -m bench --models digits_cnn --seconds 5

Everything is measured in one run, side by side, so the report can quote
ratios: the compute limit (in-process handler), the server limit (a no-op
model on the same TorchServe configuration), the served figures (batching off
and on, one and two workers), paired rounds at c=64 whose medians the targets
divide (the compute limit, served, server limit and served with the handlers as
they were before issue 15, taken in turns: bench/paired.py), each worker's
warm-up and a fresh server's first answers, and a LitServe peer for digits_cnn.
"""

import argparse
import json
import os
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import compute, jit, paired, peer, sweep
from bench.points import CORES
from bench.report import write_report
from bench.targets import MAIN_MODEL, evaluate
from harness.settings import ROOT, model_format, model_settings as settings
from harness.settings import model_families
from reliability.report import machine

BATCH_SIZES = (1, 8, 32, 64)
CONCURRENCIES = (1, 8, 32, 64)
PEER_MODEL = MAIN_MODEL
# Profile the worker where the main target is judged: batching on, one worker, c=64.
PROFILE_AT = ((MAIN_MODEL, 1, 64),)


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="0.3 s per point, one worker count, two batch sizes: checks the "
                             "harness, the figures mean nothing (default output bench/results/quick)")
    parser.add_argument("--models", default=",".join(model_families()),
                        help="comma-separated model families (default: all)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="seconds of load per served point (default 1.5; quick 0.3)")
    parser.add_argument("--warm-up", type=float, default=None,
                        help="seconds of unmeasured load before each point (default 0.3; quick 0.1)")
    parser.add_argument("--compute-seconds", type=float, default=None,
                        help="seconds per in-process figure (default 0.5; quick 0.1)")
    parser.add_argument("--workers", default=None,
                        help="comma-separated worker counts (default 1,2; quick 1)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="paired rounds per model and worker count at c=64, batching on, "
                             "whose medians the targets divide (default 5; quick 1)")
    parser.add_argument("--round-seconds", type=float, default=None,
                        help="seconds of load per served figure of a paired round (default 2; "
                             "quick 0.3)")
    parser.add_argument("--no-peer", action="store_true", help="leave out the LitServe peer")
    parser.add_argument("--no-before", action="store_true",
                        help="leave out the served figures of the handlers before issue 15")
    parser.add_argument("--format", default=None,
                        help="model format for every model, served and in process: eager, compile, "
                             "aoti or int8 (default: each model-config's handler.format, else eager)")
    parser.add_argument("--checkpoints", type=Path, default=None,
                        help="folder of <model>/model.pt (default checkpoints/)")
    parser.add_argument("--report-from", type=Path, default=None, metavar="JSON",
                        help="measure nothing: rewrite the report and plots from a run's JSON")
    parser.add_argument("--out", type=Path, default=None,
                        help="write the JSON, report and plots all in this folder (default: "
                             "bench/results/, docs/performance.md, docs/performance/)")
    return parser.parse_args()


def outputs(args, stamp) -> tuple:
    """Arguments and a timestamp → (JSON path, report path, plots folder)."""
    out = args.out or (ROOT / "bench" / "results" / "quick" if args.quick else None)
    if out:
        return out / f"{stamp}.json", out / "performance.md", out
    return (ROOT / "bench" / "results" / f"{stamp}.json", ROOT / "docs" / "performance.md",
            ROOT / "docs" / "performance")


def main():
    args = arguments()
    if args.checkpoints:
        os.environ["BENCH_CHECKPOINTS"] = str(args.checkpoints.resolve())
    quick = args.quick
    seconds = args.seconds or (0.3 if quick else 1.5)
    warm_up = args.warm_up if args.warm_up is not None else (0.1 if quick else 0.3)
    compute_seconds = args.compute_seconds or (0.1 if quick else 0.5)
    rounds = args.rounds or (1 if quick else 5)
    round_seconds = args.round_seconds or (0.3 if quick else 2.0)
    workers = [int(w) for w in (args.workers or ("1" if quick else "1,2")).split(",")]
    # Quick: one short pass, which checks the harness; otherwise until the JVM stops compiling.
    jit_warm_up = ({"window_s": 0.2, "limit_s": 0.0} if quick else
                   {"window_s": jit.WINDOW_S, "limit_s": jit.LIMIT_S})
    models = args.models.split(",")
    formats = {model: model_format(model, args.format) for model in models}
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    json_path, report_path, plots = outputs(args, stamp)
    if args.report_from:
        result = json.loads(args.report_from.read_text())
        result["targets"] = evaluate(result)
        write_report(result, args.report_from, report_path, plots)
        print(f"wrote {report_path} and plots in {plots} from {args.report_from}")
        return 0
    began = time.monotonic()

    result = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join([".venv/bin/python", "-m", "bench", *sys.argv[1:]]),
        "machine": machine(), "cores": CORES,
        "settings": {"quick": quick, "seconds": seconds, "warm_up_s": warm_up,
                     "compute_seconds": compute_seconds, "concurrencies": list(CONCURRENCIES),
                     "workers": workers, "models": models, "format": args.format,
                     "rounds": rounds, "round_seconds": round_seconds,
                     "before": not args.no_before, "jit_warm_up": jit_warm_up},
        "formats": formats,
        "model_config": {m: {k: settings(m).get(k) for k in
                             ("batchSize", "maxBatchDelay", "minWorkers", "maxWorkers")}
                         for m in models},
        "compute": {}, "points": [], "profiles": [], "worker_starts": [], "jit_warm_ups": [],
    }
    for model in models:
        sizes = sorted({*(BATCH_SIZES[:2] if quick else BATCH_SIZES),
                        int(settings(model).get("batchSize", 1))})
        print(f"in-process: {model} ({formats[model]}) at batch sizes {sizes} …", flush=True)
        result["compute"][model] = compute.measure(model, sizes, compute_seconds, formats[model],
                                                   before=not args.no_before)
    for batching in (False, True):
        points, profiles, starts = sweep.sweep(models, batching, workers, CONCURRENCIES, seconds,
                                               warm_up, args.format, PROFILE_AT if batching else (),
                                               warm_ups=result["jit_warm_ups"],
                                               jit_warm_up=jit_warm_up)
        result["points"] += points
        result["profiles"] += profiles
        result["worker_starts"] += starts
    result["paired"], starts = paired.measure(models, workers, rounds, round_seconds, warm_up,
                                              compute_seconds, args.format,
                                              before=not args.no_before,
                                              warm_ups=result["jit_warm_ups"],
                                              jit_warm_up=jit_warm_up)
    result["worker_starts"] += starts
    if PEER_MODEL in models and not args.no_peer:
        result["points"] += peer.measure_peer(PEER_MODEL, 1, CONCURRENCIES, seconds, warm_up,
                                              args.format)
    result["targets"] = evaluate(result)
    result["minutes"] = (time.monotonic() - began) / 60

    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=1))
    write_report(result, json_path, report_path, plots)
    print(f"\nwrote {json_path}, {report_path} and plots in {plots} "
          f"({result['minutes']:.1f} minutes)")
    wrong = sum(point["wrong"] for point in result["points"] + result["paired"])
    if wrong:
        print(f"{wrong} answers were wrong or missing: see the report", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
