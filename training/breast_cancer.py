"""Train breast_cancer and write a versioned checkpoint with its evaluation.

    python -m training.breast_cancer                     # about a minute at most on a laptop CPU
    python -m training.breast_cancer --data other.csv    # trains on other.csv, copied into training/data/breast_cancer/data.csv first
    python -m training.breast_cancer --dry-run --out /tmp/breast_cancer

Writes model.pt, metrics.json and training_curve.png into --out. breast_cancer is a classifier of rows of named numbers, made by
`python -m tools.new_family breast_cancer --kind tabular-classifier`.
"""

import time

import torch

from models.breast_cancer import FEATURES, BreastCancerNet
from training.classification import classifier_loss, classifier_report, outputs_for
from training.cli import training_parser
from training.loop import fit
from training.outputs import write_outputs
from training.tables import exit_on_data_error, keep_copy
from training.tabular_data import feature_statistics, load_table_splits

# Settings, each also a flag; change them for your data.
EPOCHS = 300  # most epochs: early stopping usually ends sooner
BATCH_SIZE = 32
LEARNING_RATE = 1e-3  # Adam
WEIGHT_DECAY = 1e-4
PATIENCE = 20  # epochs without a better validation loss before stopping
HIDDEN = (64, 32)  # hidden layer widths
DROPOUT = 0.1
SEED = 0
TORCH_THREADS = 1  # matrices this small: one thread is faster than several
VERSION = "1.0"
DATA = "training/data/breast_cancer/data.csv"  # the family's own copy of its data
TARGET = "label"  # the column holding each row's class
OUT = "checkpoints/breast_cancer"


def parse_args(argv=None):
    return training_parser(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                           optimizer="Adam", patience=PATIENCE, seed=SEED, version=VERSION,
                           out=OUT, data=DATA).parse_args(argv)


def load_splits(data=DATA, seed=SEED, log=print):
    """The data → cleaned, stratified train, validation and test splits; raises DataError."""
    return load_table_splits(data, FEATURES, TARGET, classify=True, seed=seed, log=log)


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    torch.set_num_threads(TORCH_THREADS)
    torch.manual_seed(args.seed)
    splits = load_splits(args.data, args.seed)
    keep_copy(args.data, DATA)
    classes = splits.classes
    # Two classes: one logit and binary cross-entropy; more: a logit each and cross-entropy.
    model_args = {**feature_statistics(splits.train_x), "outputs": outputs_for(len(classes)),
                  "hidden": HIDDEN, "dropout": DROPOUT}
    model = BreastCancerNet(**model_args)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=WEIGHT_DECAY)
    history = fit(model, classifier_loss(len(classes)), optimizer, splits.train_x,
                  splits.train_y, splits.val_x, splits.val_y,
                  epochs=1 if args.dry_run else args.epochs, batch_size=args.batch_size,
                  patience=args.patience, generator=torch.Generator().manual_seed(args.seed),
                  max_batches=2 if args.dry_run else None)

    metrics = {"split": "test", **classifier_report(model, splits.test_x, splits.test_y, classes,
                                                    splits.train_y),
               "epochs_trained": len(history)}
    print(f"test accuracy {metrics['accuracy']:.4f} (always answering the commonest class: "
          f"{metrics['majority_class_accuracy']:.4f}), ECE {metrics['ece']:.4f}")
    write_outputs(
        args.out, "breast_cancer", history, started, version=args.version, model=model,
        model_args=model_args, labels=classes, metrics=metrics, data=splits.data_info,
        preprocessing={"features": list(FEATURES), "target": TARGET},
        training={"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                  "weight_decay": WEIGHT_DECAY, "patience": args.patience, "seed": args.seed,
                  "torch_threads": TORCH_THREADS, "optimizer": "Adam", "loss": type(classifier_loss(len(classes))).__name__,
                  "dry_run": args.dry_run, "history": history})


if __name__ == "__main__":
    with exit_on_data_error():
        main()
