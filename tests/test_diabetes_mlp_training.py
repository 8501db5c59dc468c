"""diabetes_mlp training: what the dry run reports and records, and the checkpoint's R² target."""

import numpy as np
import pytest
import torch

from models.checkpoint import build_model, load_checkpoint
from models.diabetes_mlp import FEATURES
from training.diabetes_data import load_diabetes_splits
from training.regression import regression_metrics

MIN_R2 = 0.4
COMPARED = ("mlp", "mean_predictor", "linear_regression")


@pytest.fixture(scope="module")
def diabetes_checkpoint(checkpoint_dir):
    return load_checkpoint(checkpoint_dir / "diabetes_mlp" / "model.pt")


def test_dry_run_reports_cleaning_and_records_its_preprocessing(dry_run):
    printed, out = dry_run("diabetes_mlp")
    assert "epoch   1/1  train_loss" in printed
    assert "cleaning: 442 rows in" in printed and "442 rows kept" in printed

    checkpoint = load_checkpoint(out / "model.pt")
    assert checkpoint["training"]["optimizer"] == "SGD" and checkpoint["training"]["momentum"] > 0
    preprocessing = checkpoint["preprocessing"]
    assert preprocessing["features"] == list(FEATURES)
    for key in ("feature_mean", "feature_std", "target_mean", "target_std"):
        assert preprocessing[key] == checkpoint["model_args"][key]
    assert set(preprocessing["observed_ranges"]) == set(FEATURES)
    assert len(checkpoint["data"]["sha256"]) == 64

    metrics = checkpoint["metrics"]
    assert metrics["split"] == "test"
    for name in COMPARED:
        assert set(metrics[name]) == {"rmse", "mae", "r2"}
    assert (out / "training_curve.png").exists()


def test_regression_metrics_of_a_perfect_and_a_constant_prediction():
    true = np.array([1.0, 2.0, 3.0, 4.0])
    assert regression_metrics(true, true) == {"rmse": 0.0, "mae": 0.0, "r2": 1.0}
    constant = regression_metrics(true, np.full(4, 2.5))
    assert constant["r2"] == 0.0 and constant["mae"] == 1.0
    assert constant["rmse"] == pytest.approx(np.sqrt(1.25))


def test_trained_checkpoint_reaches_r2_0_4_and_beats_the_mean_predictor(diabetes_checkpoint):
    metrics = diabetes_checkpoint["metrics"]
    assert metrics["split"] == "test"
    assert metrics["mlp"]["r2"] >= MIN_R2
    assert metrics["mlp"]["rmse"] < metrics["mean_predictor"]["rmse"]
    assert metrics["mlp"]["mae"] < metrics["mean_predictor"]["mae"]
    assert abs(metrics["mean_predictor"]["r2"]) < 0.05  # the train mean is about the test mean
    assert metrics["linear_regression"]["r2"] > 0.3  # the baseline was really fitted

    # The recorded figures are reproducible from the checkpoint alone.
    splits = load_diabetes_splits(seed=diabetes_checkpoint["data"]["split"]["seed"],
                                  log=lambda line: None)
    assert len(splits.test_y) == metrics["rows"]
    model = build_model(diabetes_checkpoint)
    with torch.inference_mode():
        predicted = model(splits.test_x).numpy()
    recomputed = regression_metrics(splits.test_y.numpy(), predicted)
    for key in ("rmse", "mae", "r2"):
        assert recomputed[key] == pytest.approx(metrics["mlp"][key], rel=1e-4)


def test_checkpoint_statistics_match_the_training_split(diabetes_checkpoint):
    splits = load_diabetes_splits(seed=diabetes_checkpoint["data"]["split"]["seed"],
                                  log=lambda line: None)
    args = diabetes_checkpoint["model_args"]
    assert args["feature_mean"] == pytest.approx(splits.train_x.mean(0).tolist(), rel=1e-5)
    assert args["target_std"] == pytest.approx(float(splits.train_y.std()), rel=1e-5)
    assert diabetes_checkpoint["data"]["sha256"] == splits.data_info["sha256"]
