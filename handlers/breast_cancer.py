"""breast_cancer serving: a JSON record of its feature columns, or a list of them → the likeliest class and its probability."""

from handlers.tabular import TabularClassifierHandler
from models.breast_cancer import FEATURES


class BreastCancerHandler(TabularClassifierHandler):
    family = "breast_cancer"
    features = FEATURES
    sample = ("samples/breast_cancer.json", "application/json")  # the request make serve suggests


HANDLER = BreastCancerHandler  # what the TorchServe adapter builds for a breast_cancer checkpoint
