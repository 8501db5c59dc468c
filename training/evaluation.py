"""Evaluation reports and plots written beside each checkpoint."""

import json

import matplotlib
import numpy as np

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support  # noqa: E402


def classification_metrics(true, predicted, labels) -> dict:
    """Integer class ids → accuracy, per-class precision/recall/F1/support, confusion matrix."""
    ids = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        true, predicted, labels=ids, zero_division=0)
    return {
        "accuracy": float(accuracy_score(true, predicted)),
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        "confusion_matrix": {
            "labels": list(labels),
            "rows_are": "true label",
            "matrix": confusion_matrix(true, predicted, labels=ids).tolist(),
        },
    }


def expected_calibration_error(confidence, correct, bins=10, low=0.0) -> float:
    """Answered classes' probabilities and whether each was right → ECE: |accuracy − confidence|
    averaged over `bins` equal-width bins of [low, 1] (a binary answer is at least 0.5 sure; the
    first bin holds its lower edge)."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(low, 1.0, bins + 1)
    total = 0.0
    for index, (bottom, top) in enumerate(zip(edges[:-1], edges[1:])):
        inside = (confidence <= top) & ((confidence >= bottom) if index == 0 else (confidence > bottom))
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def write_json(path, payload):
    """Write `payload` as indented JSON to `path`."""
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")


def plot_training_curve(history, path, title):
    """Per-epoch history → PNG with training and validation loss (and accuracy when known)."""
    epochs = [h["epoch"] for h in history]
    fig, loss_axis = plt.subplots(figsize=(7, 4))
    loss_axis.plot(epochs, [h["train_loss"] for h in history], label="train loss")
    loss_axis.plot(epochs, [h["val_loss"] for h in history], label="validation loss")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("loss")
    lines, names = loss_axis.get_legend_handles_labels()
    if all("val_accuracy" in h for h in history):
        accuracy_axis = loss_axis.twinx()
        accuracy_axis.plot(epochs, [h["val_accuracy"] for h in history], color="tab:green",
                           label="validation accuracy")
        accuracy_axis.set_ylabel("accuracy")
        more_lines, more_names = accuracy_axis.get_legend_handles_labels()
        lines, names = lines + more_lines, names + more_names
    loss_axis.legend(lines, names, loc="center right")
    loss_axis.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
