"""Train digits_cnn with several seeds and record each evaluation kind's accuracy per seed, min, mean and max.

    python -m training.digits_seed_spread --seeds 0 1 2 3 4     # about 8 minutes on 2 cores

Seeds stand in for other machines (CPUs with and without AVX-512 train slightly
different models from one seed), so quality tests set their margins from this
spread. Writes training/digits_seed_spread.json, which training copies into
metrics.json and the README quotes.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from training.digits_evaluation import KINDS, TARGET_ACCURACY, TARGET_KINDS
from training.evaluation import write_json

SPREAD = Path(__file__).with_name("digits_seed_spread.json")
WORK = "/tmp/digits_seed_spread"


def train_seed(seed: int, out: Path) -> dict:
    """Seed → {kind: accuracy} of a digits_cnn trained with it into `out`, plus the load_digits test split."""
    subprocess.run([sys.executable, "-m", "training.digits_cnn", "--seed", str(seed),
                    "--out", str(out)], check=True, timeout=900, stdout=subprocess.DEVNULL)
    metrics = json.loads((out / "metrics.json").read_text())
    figures = {kind: metrics["kinds"][kind]["accuracy"] for kind in KINDS}
    figures["load_digits_test"] = metrics["accuracy"]
    return figures


def spread(per_seed: dict) -> dict:
    """{seed: {kind: accuracy}} → {kind: {"min", "mean", "max"}}."""
    kinds = next(iter(per_seed.values()))
    return {kind: {"min": min(f[kind] for f in per_seed.values()),
                   "mean": sum(f[kind] for f in per_seed.values()) / len(per_seed),
                   "max": max(f[kind] for f in per_seed.values())} for kind in kinds}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                        help="training seeds (default 0 1 2 3 4)")
    parser.add_argument("--work", default=WORK, help=f"folder for each seed's checkpoint (default {WORK})")
    parser.add_argument("--out", default=str(SPREAD), help=f"spread JSON (default {SPREAD})")
    args = parser.parse_args(argv)

    per_seed = {}
    for seed in args.seeds:
        per_seed[str(seed)] = train_seed(seed, Path(args.work) / str(seed))
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in per_seed[str(seed)].items()),
              flush=True)
    summary = spread(per_seed)
    report = {
        "family": "digits_cnn",
        "command": "python -m training.digits_seed_spread --seeds "
                   + " ".join(str(s) for s in args.seeds),
        "target": {"accuracy": TARGET_ACCURACY, "kinds": list(TARGET_KINDS)},
        "every_seed_meets_target": all(summary[kind]["min"] >= TARGET_ACCURACY
                                       for kind in TARGET_KINDS),
        "per_seed": per_seed,
        "spread": summary,
    }
    write_json(args.out, report)
    for kind, figures in summary.items():
        print(f"{kind}: min {figures['min']:.4f}  mean {figures['mean']:.4f}  max {figures['max']:.4f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
