"""What TorchServe's logging costs a request: the repository's log4j2.xml against TorchServe's
built-in configuration, on two servers up side by side, in alternating rounds.

    python -m bench.logging_cost                  # the benchmark's family and its no-op twin
    python -m bench.logging_cost --rounds 6 --seconds 3

bench.server_settings with one setting: the second server has no vmargs, so TorchServe falls
back to the configuration inside its jar. Each round loads each server in turn at c=64 and reads
the CPU seconds the Java frontend spent per answered request, which is where the log lines are
written, beside the requests per second. Writes bench/results/logging-<timestamp>.json.
"""

import argparse
from pathlib import Path

from bench.server_settings import REPOSITORY, compare, medians, print_medians, write_result
from bench.stores import noop_name
from bench.sweep import BENCHMARKED
from harness.settings import ROOT

SETTINGS = {REPOSITORY: {}, "built-in logging": {"vmargs": ""}}


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
    figures, lines = compare([args.model], SETTINGS, 1, args.rounds, args.seconds)
    found = medians(figures)
    path = write_result(args.out, "logging", {
        "model": args.model, "no-op twin": noop_name(args.model), "settings": SETTINGS,
        "rounds": figures,
        "medians": [{"setting": s, "model": m, "kind": k, **v} for (s, m, k), v in found.items()],
        "ts_log_lines": lines})
    print_medians(found, args.rounds, 1)
    print(f"ts_log.log lines: {lines}\nwrote {path}")
    return 1 if any(figure["wrong"] for figure in figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
