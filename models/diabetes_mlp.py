"""diabetes_mlp: a small MLP that predicts disease progression from ten baseline measurements.

The single source of truth for the family: the feature names and their
order, and the model, which standardizes raw features and returns the target
on its own scale. Training imports it, every `.mar` ships it.
"""

import torch
from torch import nn

# The columns of scikit-learn's load_diabetes(scaled=False), in the model's input order.
FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
TARGET = "progression"  # disease progression one year after baseline


class DiabetesMLP(nn.Module):
    """[N, 10] raw features in FEATURES order → [N] predicted progression on the target's scale."""

    def __init__(self, feature_mean, feature_std, target_mean, target_std, hidden=(32, 16),
                 dropout=0.0):
        super().__init__()
        if len(feature_mean) != len(FEATURES) or len(feature_std) != len(FEATURES):
            raise ValueError(f"need a mean and a std for each of the {len(FEATURES)} features")
        # Standardization lives in the model so no caller can forget it; the
        # statistics come from the training split and travel in model_args.
        self.register_buffer("feature_mean", torch.tensor([float(m) for m in feature_mean]))
        self.register_buffer("feature_std", torch.tensor([float(s) for s in feature_std]))
        self.register_buffer("target_mean", torch.tensor(float(target_mean)))
        self.register_buffer("target_std", torch.tensor(float(target_std)))
        layers, width = [], len(FEATURES)
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, features):
        x = (features - self.feature_mean) / self.feature_std
        return self.layers(x).squeeze(-1) * self.target_std + self.target_mean


ARCHITECTURE = DiabetesMLP  # what models.checkpoint builds for a diabetes_mlp checkpoint
