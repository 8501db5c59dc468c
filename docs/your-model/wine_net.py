"""The network docs/your-model/train_elsewhere.py trains: a user's own module class, in a file of
its own so that a state_dict of it can be brought in (tools.bring_model --class)."""

import torch
from torch import nn


class WineNet(nn.Module):
    """[N, 13] raw wine measurements → [N, 3] logits of class_0, class_1, class_2.

    The standardization is part of the model, so whoever serves it sends raw measurements.
    """

    def __init__(self, mean, std, hidden=32):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean))
        self.register_buffer("std", torch.tensor(std))
        self.layers = nn.Sequential(nn.Linear(len(mean), hidden), nn.ReLU(), nn.Linear(hidden, 3))

    def forward(self, x):
        return self.layers((x - self.mean) / self.std)
