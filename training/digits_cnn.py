"""Train digits_cnn on load_digits, MNIST, stroke-drawn and typed digits; write a checkpoint with its evaluation.

    python -m training.digits_cnn                 # about a minute on 2 CPU cores
    python -m training.digits_cnn --dry-run --out /tmp/digits_cnn

Writes model.pt, metrics.json and training_curve.png into --out.
"""

import json
import time
from pathlib import Path

import torch
from torch import nn

from models.digits_cnn import IMAGE_SIZE, LABELS, MAX_INK, DigitsCNN
from training.cli import seeded_run, training_parser
from training.digits_data import augment, load_digit_splits, normalization_stats
from training.digits_evaluation import TARGET_ACCURACY, TARGET_KINDS, evaluate_kinds
from training.digits_mix import mix_sources
from training.evaluation import classification_metrics
from training.loop import fit
from training.outputs import write_outputs

# Defaults give a model that reads ≥97% of each evaluation kind on a laptop CPU in about a minute.
EPOCHS = 25  # upper bound; early stopping may end sooner
BATCH_SIZE = 128
LEARNING_RATE = 2e-3  # Adam
WEIGHT_DECAY = 1e-4
PATIENCE = 6  # epochs without a better validation loss before stopping
SEED = 0
VERSION = "1.0"
OUT = "checkpoints/digits_cnn"
# One thread: this small a network trains faster alone than two threads contending,
# most of all on a machine whose cores are busy with other work.
THREADS = 1
# load_digits' training split is a tenth of the mix; seen twice an epoch (each copy
# augmented afresh) the model keeps reading its test split as well as before.
LOAD_DIGITS_REPEAT = 2
# Per-kind accuracy over training seeds, written by `python -m training.digits_seed_spread`.
SEED_SPREAD = Path(__file__).with_name("digits_seed_spread.json")


def parse_args(argv=None):
    return training_parser(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                           optimizer="Adam", patience=PATIENCE, seed=SEED, version=VERSION,
                           out=OUT).parse_args(argv)


def predict(model, pixels, batch_size=512):
    """[N, 1, 8, 8] → [N] predicted class ids."""
    with torch.inference_mode():
        return torch.cat([model(pixels[i:i + batch_size]).argmax(1)
                          for i in range(0, len(pixels), batch_size)])


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    generator = seeded_run(args.seed, THREADS)

    splits = load_digit_splits(seed=args.seed, limit=400 if args.dry_run else None)
    sources = mix_sources(args.seed, share=0.05 if args.dry_run else 1.0)
    train_x = torch.cat([splits.train_x] * LOAD_DIGITS_REPEAT
                        + [train[0] for train, _ in sources.values()])
    train_y = torch.cat([splits.train_y] * LOAD_DIGITS_REPEAT
                        + [train[1] for train, _ in sources.values()])
    # Model selection sees validation parts of the training sources only, never an evaluation set.
    val_x = torch.cat([splits.val_x] + [val[0] for _, val in sources.values()])
    val_y = torch.cat([splits.val_y] + [val[1] for _, val in sources.values()])
    stats = normalization_stats(train_x)
    model_args = {**stats, "channels": (32, 64), "hidden": 128, "dropout": 0.25,
                  "num_classes": len(LABELS)}
    model = DigitsCNN(**model_args)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=WEIGHT_DECAY)

    history = fit(model, nn.CrossEntropyLoss(), optimizer,
                  train_x, train_y, val_x, val_y,
                  epochs=1 if args.dry_run else args.epochs, batch_size=args.batch_size,
                  patience=args.patience, generator=generator, augment=augment,
                  max_batches=2 if args.dry_run else None)

    metrics = classification_metrics(splits.test_y.numpy(), predict(model, splits.test_x).numpy(),
                                     LABELS)
    metrics["split"] = "test"
    metrics["epochs_trained"] = len(history)
    print(f"load_digits test accuracy {metrics['accuracy']:.4f} on {len(splits.test_y)} images")
    metrics["kinds"] = evaluate_kinds(model)
    for kind, result in metrics["kinds"].items():
        target = f" (target {TARGET_ACCURACY:.0%})" if kind in TARGET_KINDS else ""
        print(f"{kind}: accuracy {result['accuracy']:.4f} on {result['count']} pictures{target}")
    if SEED_SPREAD.exists():
        metrics["seed_spread"] = json.loads(SEED_SPREAD.read_text())
    data_info = {**splits.data_info, "mix": {
        name: {"train": len(train[1]), "validation": len(val[1])}
        for name, (train, val) in sources.items()}}

    write_outputs(
        args.out, "digits_cnn", history, started, version=args.version, model=model,
        model_args=model_args, labels=LABELS, metrics=metrics, data=data_info,
        preprocessing={"function": "models.digits_cnn.prepare_digit_image",
                       "image_size": IMAGE_SIZE, "max_ink": MAX_INK, **stats},
        training={"epochs": args.epochs, "load_digits_repeat": LOAD_DIGITS_REPEAT,
                  "batch_size": args.batch_size, "lr": args.lr,
                  "weight_decay": WEIGHT_DECAY, "patience": args.patience, "seed": args.seed,
                  "optimizer": "Adam", "loss": "cross_entropy", "dry_run": args.dry_run,
                  "history": history})


if __name__ == "__main__":
    main()
