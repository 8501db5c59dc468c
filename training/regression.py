"""What a regressor's training shares: its report against the two baselines any model must beat."""

import numpy as np
import torch
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from torch import nn


class StandardizedMSE(nn.Module):
    """Mean squared error divided by the training target's variance.

    The same gradients as MSE on standardized targets, so one learning rate
    suits any target scale; a loss of 1 is as good as predicting the mean.
    """

    def __init__(self, target_std: float):
        super().__init__()
        self.scale = 1.0 / float(target_std) ** 2

    def forward(self, predicted, target):
        return nn.functional.mse_loss(predicted, target) * self.scale


def regression_metrics(true, predicted) -> dict:
    """Targets and predictions [N] → {"rmse", "mae", "r2"} as plain floats."""
    return {"rmse": float(np.sqrt(mean_squared_error(true, predicted))),
            "mae": float(mean_absolute_error(true, predicted)),
            "r2": float(r2_score(true, predicted))}


def regressor_report(model, splits, name="model") -> dict:
    """Trained model and splits → test metrics of the model (under `name`), of predicting the
    training mean, and of linear regression fitted to the training split."""
    # A model without weights of its own (a brought program) takes the split's dtype.
    dtype = next((parameter.dtype for parameter in model.parameters()), splits.test_x.dtype)
    with torch.inference_mode():
        model.eval()
        predicted = model(splits.test_x.to(dtype)).double().numpy()
    train_x, train_y = splits.train_x.numpy(), splits.train_y.numpy()
    test_x, test_y = splits.test_x.numpy(), splits.test_y.numpy()
    mean = np.full_like(test_y, float(train_y.mean()))
    linear = LinearRegression().fit(train_x, train_y).predict(test_x)
    return {name: regression_metrics(test_y, predicted),
            "mean_predictor": regression_metrics(test_y, mean),
            "linear_regression": regression_metrics(test_y, linear)}
