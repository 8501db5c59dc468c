"""Train diabetes_mlp on scikit-learn's diabetes data and write a versioned checkpoint with its evaluation.

    python -m training.diabetes_mlp                 # a few seconds on 2 CPU cores
    python -m training.diabetes_mlp --dry-run --out /tmp/diabetes_mlp

Writes model.pt, metrics.json and training_curve.png into --out.
"""

import time

import torch

from models.diabetes_mlp import FEATURES, TARGET, DiabetesMLP
from training.cli import seeded_run, training_parser
from training.diabetes_data import load_diabetes_splits, observed_ranges, standardization_stats
from training.loop import fit
from training.outputs import write_outputs
from training.regression import StandardizedMSE, regressor_report

# Defaults give a test R² near 0.5 (linear regression's level) in a few seconds.
EPOCHS = 400  # upper bound; early stopping usually ends far sooner
BATCH_SIZE = 32
LEARNING_RATE = 0.01  # SGD
MOMENTUM = 0.9
WEIGHT_DECAY = 1e-3  # 309 training rows: keep the weights small
HIDDEN = (32, 16)  # hidden layer widths
DROPOUT = 0.1
PATIENCE = 30  # epochs without a better validation loss before stopping
SEED = 0
VERSION = "1.0"
OUT = "checkpoints/diabetes_mlp"


def parse_args(argv=None):
    parser = training_parser(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                             optimizer="SGD", patience=PATIENCE, seed=SEED, version=VERSION,
                             out=OUT)
    parser.add_argument("--momentum", type=float, default=MOMENTUM,
                        help=f"SGD momentum (default {MOMENTUM})")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    generator = seeded_run(args.seed)

    splits = load_diabetes_splits(seed=args.seed)
    stats = standardization_stats(splits.train_x, splits.train_y)
    model_args = {**stats, "hidden": HIDDEN, "dropout": DROPOUT}
    model = DiabetesMLP(**model_args)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                                weight_decay=WEIGHT_DECAY)

    # float32 targets: fit reports no accuracy, only losses.
    history = fit(model, StandardizedMSE(stats["target_std"]), optimizer,
                  splits.train_x, splits.train_y, splits.val_x, splits.val_y,
                  epochs=1 if args.dry_run else args.epochs, batch_size=args.batch_size,
                  patience=args.patience, generator=generator,
                  max_batches=2 if args.dry_run else None)

    metrics = {"split": "test", "rows": len(splits.test_y), "target": TARGET,
               **regressor_report(model, splits, "mlp"), "epochs_trained": len(history),
               "training_seconds": round(time.perf_counter() - started, 1)}
    for name in ("mlp", "linear_regression", "mean_predictor"):
        m = metrics[name]
        print(f"test {name:17s}  RMSE {m['rmse']:6.2f}  MAE {m['mae']:6.2f}  R² {m['r2']:.3f}")

    write_outputs(
        args.out, "diabetes_mlp", history, started, version=args.version, model=model,
        model_args=model_args, labels=[TARGET], metrics=metrics, data=splits.data_info,
        preprocessing={"features": list(FEATURES),
                       "observed_ranges": observed_ranges(splits.train_x), **stats},
        training={"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                  "momentum": args.momentum, "weight_decay": WEIGHT_DECAY,
                  "patience": args.patience, "seed": args.seed, "optimizer": "SGD",
                  "loss": "mse / train target variance", "dry_run": args.dry_run,
                  "history": history})


if __name__ == "__main__":
    main()
