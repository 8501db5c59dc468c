"""What a classifier's training shares, whatever it reads: its loss, its probabilities, its report."""

import numpy as np
import torch
from torch import nn

from training.evaluation import classification_metrics, expected_calibration_error


class BinaryCrossEntropy(nn.Module):
    """[N] logits of the second class and [N] class ids (0 or 1) → binary cross-entropy."""

    def forward(self, logits, targets):
        return nn.functional.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype))


def classifier_loss(classes: int) -> nn.Module:
    """Number of classes → the loss to train with: two classes read one logit (binary
    cross-entropy), more read one logit per class (cross-entropy)."""
    return BinaryCrossEntropy() if classes == 2 else nn.CrossEntropyLoss()


def outputs_for(classes: int) -> int:
    """Number of classes → how many logits the model gives per example."""
    return 1 if classes == 2 else classes


@torch.inference_mode()
def probabilities(model, inputs) -> torch.Tensor:
    """Model inputs → [N, C] class probabilities, whether the model gives one logit or C."""
    model.eval()
    logits = model(inputs).double()
    if logits.dim() == 1:
        second = torch.sigmoid(logits)
        return torch.stack([1 - second, second], dim=1)
    return torch.softmax(logits, dim=1)


def classifier_report(model, inputs, targets, classes, train_targets) -> dict:
    """A trained model and a held-out split → accuracy, per-class precision/recall/F1, confusion
    matrix, calibration (ECE) and the accuracy of always answering the commonest training class."""
    chances = probabilities(model, inputs)
    confidence, predicted = chances.max(dim=1)
    true = targets.numpy()
    majority = int(np.bincount(train_targets.numpy(), minlength=len(classes)).argmax())
    return {**classification_metrics(true, predicted.numpy(), classes),
            "ece": expected_calibration_error(confidence.numpy(), predicted.numpy() == true,
                                              low=1 / len(classes)),
            "majority_class_accuracy": float((true == majority).mean())}
