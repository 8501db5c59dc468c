"""Each family's handler against itself before issue 15, in process, side by side → a JSON report.

    .venv/bin/python -m bench.handler_speed                        # every family, about 3 minutes
    .venv/bin/python -m bench.handler_speed --models digits_cnn --rounds 5

What is timed is compute.py's compute limit: ModelHandler.handle over a batch
of model-config's batchSize copies of the family's sample, one process, as many
torch threads as the family's worker. The handler as it is and as it was
(bench/handlers_before/<family>.py: the old shared pipeline and the old family
steps) take turns, `--seconds` each, in `--rounds` rounds, the first to run
alternating, so a busy machine slows both alike; a family's figure is the
median of its rounds' ratios. Both must give the sample the same answer first.
Where each one's time goes (decode, preprocess, inference, postprocess) is
measured after the rounds. Writes bench/results/handler_speed-<timestamp>.json
and prints a table.
"""

import argparse
import json
import shlex
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from bench.compute import STEPS, build_handler, repeat, sample_request, step_shares, worker_threads
from bench.points import CORES
from harness.settings import ROOT, model_families, model_settings as settings
from reliability.report import machine


def handler_before(model):
    """Model → its handler as it was before issue 15 (bench.handlers_before.handler_class), over
    the same checkpoint, on the CPU."""
    return build_handler(model, before=True)


def rate(handler, batch, seconds) -> float:
    """Requests per second of handler.handle(batch), run for about `seconds`."""
    runs, elapsed = repeat(lambda: handler.handle(batch), seconds)
    return len(batch) * runs / elapsed


def compare(model, rounds, seconds) -> dict:
    """Model → its figures: requests per second before and after in each round, their medians,
    the median of the rounds' ratios, and each one's step shares."""
    torch.set_num_threads(worker_threads(model))
    after, before = build_handler(model), handler_before(model)
    size = int(settings(model).get("batchSize", 1))
    batch = [sample_request(after)] * size
    answers = [(answer.status, answer.body) for answer in after.handle(batch)]
    if answers != [(answer.status, answer.body) for answer in before.handle(batch)]:
        raise SystemExit(f"{model}: the handler and the one before answer the sample otherwise")
    rates = {"before": [], "after": []}
    for round_number in range(rounds):
        order = ("before", "after") if round_number % 2 else ("after", "before")
        for side in order:
            rates[side].append(rate(after if side == "after" else before, batch, seconds))
    ratios = [new / old for new, old in zip(rates["after"], rates["before"])]
    return {"batch_size": size, "torch_threads": torch.get_num_threads(), "same_answers": True,
            "per_second": rates, "ratios": ratios,
            "median_per_second": {side: statistics.median(values) for side, values in rates.items()},
            "ratio": statistics.median(ratios),
            "shares": {"before": step_shares(before, batch, seconds),
                       "after": step_shares(after, batch, seconds)}}


def shares_text(shares) -> str:
    return " / ".join(f"{shares[step]:.0%}" for step in (*STEPS, "other"))


def table(families: dict) -> str:
    """Figures per family → a Markdown table."""
    lines = [f"| model | batch | before req/s | after req/s | after / before | before: "
             f"{' / '.join((*STEPS, 'other'))} | after: the same |", "|---|---:|---:|---:|---:|---|---|"]
    for model, figures in families.items():
        medians = figures["median_per_second"]
        lines.append(f"| {model} | {figures['batch_size']} | {medians['before']:,.0f} | "
                     f"{medians['after']:,.0f} | {figures['ratio']:.2f}× | "
                     f"{shares_text(figures['shares']['before'])} | "
                     f"{shares_text(figures['shares']['after'])} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(model_families()),
                        help="comma-separated model families (default: all)")
    parser.add_argument("--rounds", type=int, default=15,
                        help="rounds of before and after, taking turns (default 15)")
    parser.add_argument("--seconds", type=float, default=0.5,
                        help="seconds each side runs per round, and per step share (default 0.5)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results",
                        help="folder of the JSON report (default bench/results/)")
    args = parser.parse_args(argv)
    began, stamp = time.monotonic(), datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    result = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "command": shlex.join([".venv/bin/python", "-m", "bench.handler_speed",
                                     *(sys.argv[1:] if argv is None else argv)]),
              "machine": machine(), "cores": CORES,
              "settings": {"rounds": args.rounds, "seconds": args.seconds}, "families": {}}
    for model in args.models.split(","):
        print(f"{model}: {args.rounds} rounds of {args.seconds} s each side …", flush=True)
        result["families"][model] = compare(model, args.rounds, args.seconds)
    result["minutes"] = (time.monotonic() - began) / 60
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"handler_speed-{stamp}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"\n{table(result['families'])}\n\nwrote {path} ({result['minutes']:.1f} minutes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
