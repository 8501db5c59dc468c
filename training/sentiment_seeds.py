"""Train sentiment_rnn with several seeds and write the spread of its quality on the hand-written reviews.

    python -m training.sentiment_seeds                  # seeds 0-4, about 20 min on 2 CPU cores
    python -m training.sentiment_seeds --seeds 0 1 2 3 4 5 6 --jobs 2

Seeds stand in for other machines (CPUs with and without AVX-512 train
slightly different models from one seed): the quality tests set their
margins from this spread, never from one run. Writes SPREAD (committed);
each seed's checkpoint goes to --out/<seed>.
"""

import argparse
import json
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from training.sentiment_rnn import SEED_SPREAD

ROOT = Path(__file__).resolve().parent.parent
SPREAD = SEED_SPREAD  # the committed spread, which training copies into metrics.json
FIGURES = ("accuracy", "ece", "wrong_at_or_above_0.95", "mean_confidence")


def summary(values) -> dict:
    """Numbers → {"min", "mean", "max", "stdev"}."""
    return {"min": min(values), "mean": statistics.fmean(values), "max": max(values),
            "stdev": statistics.stdev(values) if len(values) > 1 else 0.0}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                        help="training seeds (default 0 1 2 3 4)")
    parser.add_argument("--out", default="/tmp/sentiment_seeds",
                        help="folder for each seed's checkpoint (default /tmp/sentiment_seeds)")
    parser.add_argument("--spread", default=str(SPREAD), help=f"JSON to write (default {SPREAD.name})")
    parser.add_argument("--jobs", type=int, default=2,
                        help="seeds trained at once (default 2: training uses one core each)")
    args = parser.parse_args(argv)

    def train(seed):
        """Seed → its training run in a process of its own, logged to <out>/<seed>/train.log."""
        out = Path(args.out) / str(seed)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "train.log", "w") as log:
            subprocess.run([sys.executable, "-m", "training.sentiment_rnn", "--seed", str(seed),
                            "--out", str(out.resolve())], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=True)
        print(f"seed {seed}: trained ({out / 'train.log'})", flush=True)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(train, args.seeds))
    runs = []
    for seed in args.seeds:
        out = Path(args.out) / str(seed)
        metrics = json.loads((out / "metrics.json").read_text())
        hand = metrics["hand_written"]
        runs.append({"seed": seed, **{name: hand[name] for name in FIGURES},
                     "template_test_accuracy": metrics["accuracy"],
                     "lexicon_test_accuracy": metrics["lexicon_test"]["accuracy"],
                     "written_test_accuracy": metrics["written_test"]["accuracy"],
                     "development_accuracy": metrics["development"]["accuracy"],
                     "per_kind": {kind: figure["accuracy"]
                                  for kind, figure in hand["per_kind"].items()},
                     "temperature": metrics["temperature"],
                     "epochs_trained": metrics["epochs_trained"]})
    spread = {"command": "python -m training.sentiment_seeds --seeds "
                         + " ".join(map(str, args.seeds)),
              "evaluation": "training/data/sentiment_eval_handwritten.csv",
              "rows": json.loads((Path(args.out) / str(args.seeds[0]) / "metrics.json")
                                 .read_text())["hand_written"]["rows"],
              "seeds": runs,
              **{name: summary([run[name] for run in runs])
                 for name in FIGURES + ("template_test_accuracy", "lexicon_test_accuracy",
                                        "written_test_accuracy", "development_accuracy",
                                        "temperature")},
              "per_kind": {kind: summary([run["per_kind"][kind] for run in runs])
                           for kind in runs[0]["per_kind"]}}
    Path(args.spread).write_text(json.dumps(spread, indent=2) + "\n")
    for name in FIGURES:
        figure = spread[name]
        print(f"{name}: min {figure['min']:.4f}, mean {figure['mean']:.4f}, max {figure['max']:.4f}")
    print(f"wrote {args.spread}")


if __name__ == "__main__":
    main()
