"""diabetes_mlp training: the dry run's outputs, loud flags, and the checkpoint's R² target."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from models.checkpoint import REQUIRED_KEYS, build_model, load_checkpoint
from models.diabetes_mlp import FEATURES
from training.diabetes_data import load_diabetes_splits
from training.diabetes_mlp import regression_metrics

ROOT = Path(__file__).resolve().parent.parent
MIN_R2 = 0.4
COMPARED = ("mlp", "mean_predictor", "linear_regression")


@pytest.fixture(scope="module")
def diabetes_checkpoint(checkpoint_dir):
    return load_checkpoint(checkpoint_dir / "diabetes_mlp" / "model.pt")


def test_dry_run_writes_checkpoint_metrics_and_curve(tmp_path):
    result = subprocess.run([sys.executable, "-m", "training.diabetes_mlp", "--dry-run", "--out",
                             str(tmp_path), "--version", "0.9"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "epoch   1/1  train_loss" in result.stdout
    assert "cleaning: 442 rows in" in result.stdout and "442 rows kept" in result.stdout

    checkpoint = load_checkpoint(tmp_path / "model.pt")
    assert set(REQUIRED_KEYS) <= set(checkpoint)
    assert checkpoint["family"] == "diabetes_mlp" and checkpoint["version"] == "0.9"
    assert checkpoint["training"]["dry_run"] is True
    assert checkpoint["training"]["optimizer"] == "SGD" and checkpoint["training"]["momentum"] > 0
    preprocessing = checkpoint["preprocessing"]
    assert preprocessing["features"] == list(FEATURES)
    for key in ("feature_mean", "feature_std", "target_mean", "target_std"):
        assert preprocessing[key] == checkpoint["model_args"][key]
    assert set(preprocessing["observed_ranges"]) == set(FEATURES)
    assert len(checkpoint["data"]["sha256"]) == 64

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["split"] == "test"
    for name in COMPARED:
        assert set(metrics[name]) == {"rmse", "mae", "r2"}
    assert (tmp_path / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_or_abbreviated_flags_fail_loudly(tmp_path):
    for flag in ("--epoch", "--learning-rate"):
        result = subprocess.run([sys.executable, "-m", "training.diabetes_mlp", "--dry-run",
                                 "--out", str(tmp_path), flag, "3"],
                                cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0 and "unrecognized arguments" in result.stderr
    assert not (tmp_path / "model.pt").exists()


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
