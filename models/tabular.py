"""Building blocks for models that read a row of named numbers (tools.new_family's tabular kinds)."""

import torch
from torch import nn


class Standardize(nn.Module):
    """[N, F] raw features → (x − mean) / std per feature, with the training split's statistics.

    The statistics live in the model's buffers, so no caller can forget them and
    every checkpoint carries them.
    """

    def __init__(self, mean, std):
        super().__init__()
        if len(mean) != len(std):
            raise ValueError(f"{len(mean)} means for {len(std)} standard deviations")
        self.register_buffer("mean", torch.tensor([float(m) for m in mean]))
        # A constant feature has std 0: divide by 1 instead.
        self.register_buffer("std", torch.tensor([float(s) if s > 0 else 1.0 for s in std]))

    def forward(self, features):
        return (features - self.mean) / self.std


def perceptron(inputs: int, hidden, outputs: int, dropout=0.0) -> nn.Sequential:
    """Layer widths → Linear-ReLU-Dropout for each hidden width, then a Linear to `outputs`."""
    layers, width = [], inputs
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
        width = size
    layers.append(nn.Linear(width, outputs))
    return nn.Sequential(*layers)
