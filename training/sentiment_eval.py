"""sentiment_rnn's held-out evaluation: the hand-written reviews, accuracy by domain and kind, calibration.

training/data/sentiment_eval_handwritten.csv holds reviews written by hand,
apart from every training source (see its README note); it is read here for
evaluation only, never for training, early stopping or the temperature.
"""

import csv
from collections import defaultdict
from pathlib import Path

import torch

from models.sentiment_rnn import LABELS
from models.text import normalize_text
from training.evaluation import expected_calibration_error

HAND_WRITTEN = Path(__file__).resolve().parent / "data" / "sentiment_eval_handwritten.csv"
ECE_BINS = 10  # equal-width bins of the answered label's probability, 0.5 to 1
OVERCONFIDENT = 0.95  # a wrong answer at or above this probability counts as overconfident


def read_hand_written(path=HAND_WRITTEN) -> list:
    """CSV text,label,domain,kind → [{"text", "label" id, "domain", "kind"}], texts normalized."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    return [{"text": normalize_text(row["text"]), "label": LABELS.index(row["label"]),
             "domain": row["domain"], "kind": row["kind"]} for row in rows]


def answer_quality(labels, positive) -> dict:
    """Label ids and probabilities of "positive" → accuracy, ECE, overconfident wrong answers."""
    positive = torch.as_tensor(positive, dtype=torch.float64)
    labels = torch.as_tensor(labels)
    predicted = (positive >= 0.5).long()
    confidence = torch.where(predicted == 1, positive, 1 - positive)
    correct = predicted == labels
    return {"rows": len(labels), "accuracy": float(correct.double().mean()),
            "ece": expected_calibration_error(confidence, correct, ECE_BINS, low=0.5),
            "wrong": int((~correct).sum()),
            "wrong_at_or_above_0.95": int(((~correct) & (confidence >= OVERCONFIDENT)).sum()),
            "mean_confidence": float(confidence.mean())}


def hand_written_metrics(predict, path=HAND_WRITTEN) -> dict:
    """predict(texts) → probabilities of "positive"; the hand-written set → its quality overall,
    per domain and per kind, and the wrong answers."""
    rows = read_hand_written(path)
    positive = predict([row["text"] for row in rows]).double()
    labels = [row["label"] for row in rows]
    metrics = answer_quality(labels, positive)
    for key in ("domain", "kind"):
        groups = defaultdict(list)
        for index, row in enumerate(rows):
            groups[row[key]].append(index)
        metrics[f"per_{key}"] = {
            name: {"rows": len(index),
                   "accuracy": sum(int((positive[i] >= 0.5) == labels[i]) for i in index) / len(index)}
            for name, index in sorted(groups.items())}
    metrics["wrong_answers"] = [
        {"text": row["text"], "label": LABELS[row["label"]],
         "probability_positive": round(float(p), 4)}
        for row, p in zip(rows, positive) if int(p >= 0.5) != row["label"]]
    metrics["source"] = f"training/data/{Path(path).name}"
    return metrics
