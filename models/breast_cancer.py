"""breast_cancer: the model and what it reads, shared by training and serving.

It is a classifier of rows of named numbers, made by `python -m tools.new_family breast_cancer --kind tabular-classifier`.
Change the network as you need: training builds it with the arguments every checkpoint
records, and serving rebuilds it from them.
"""

from torch import nn

from models.tabular import Standardize, perceptron

# The feature columns of the data, in the model's input order; a request names each one.
# Training on data with other columns means changing them here.
FEATURES = (
    'mean radius', 'mean texture', 'mean perimeter', 'mean area', 'mean smoothness',
    'mean compactness', 'mean concavity', 'mean concave points', 'mean symmetry',
    'mean fractal dimension', 'radius error', 'texture error', 'perimeter error', 'area error',
    'smoothness error', 'compactness error', 'concavity error', 'concave points error',
    'symmetry error', 'fractal dimension error', 'worst radius', 'worst texture',
    'worst perimeter', 'worst area', 'worst smoothness', 'worst compactness', 'worst concavity',
    'worst concave points', 'worst symmetry', 'worst fractal dimension',
)


class BreastCancerNet(nn.Module):
    """[N, len(FEATURES)] raw values → [N] logit of the second class (two classes), or [N, C]
    logits (C classes)."""

    def __init__(self, feature_mean, feature_std, outputs, hidden=(64, 32), dropout=0.1):
        super().__init__()
        # Standardized with the training split's statistics, which travel in the checkpoint.
        self.standardize = Standardize(feature_mean, feature_std)
        self.layers = perceptron(len(FEATURES), hidden, outputs, dropout)

    def forward(self, features):
        return self.layers(self.standardize(features)).squeeze(-1)


ARCHITECTURE = BreastCancerNet  # what models.checkpoint builds for a breast_cancer checkpoint
