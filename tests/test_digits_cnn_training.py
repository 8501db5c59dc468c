"""digits_cnn training: what the dry run reports and records, and the checkpoint's 97% target."""

import pytest
import torch

from models.checkpoint import build_model, load_checkpoint
from training.digits_data import load_digit_splits


def test_dry_run_reports_cleaning_and_records_its_preprocessing(dry_run):
    printed, out = dry_run("digits_cnn")
    assert "epoch   1/1  train_loss" in printed
    assert "cleaning: 1797 rows in" in printed
    checkpoint = load_checkpoint(out / "model.pt")
    assert checkpoint["preprocessing"]["pixel_mean"] == checkpoint["model_args"]["pixel_mean"]
    assert set(checkpoint["metrics"]) >= {"accuracy", "per_class", "confusion_matrix"}
    assert (out / "training_curve.png").exists()


def test_trained_checkpoint_reaches_97_percent_on_the_test_split(digits_cnn_checkpoint):
    metrics = digits_cnn_checkpoint["metrics"]
    assert metrics["accuracy"] >= 0.97
    matrix = torch.tensor(metrics["confusion_matrix"]["matrix"])
    assert matrix.shape == (10, 10)
    assert int(matrix.diag().sum()) / int(matrix.sum()) == pytest.approx(metrics["accuracy"])
    assert set(metrics["per_class"]) == set(digits_cnn_checkpoint["labels"])

    # The recorded figure is reproducible from the checkpoint alone.
    seed = digits_cnn_checkpoint["data"]["split"]["seed"]
    splits = load_digit_splits(seed=seed, log=lambda line: None)
    model = build_model(digits_cnn_checkpoint)
    with torch.inference_mode():
        accuracy = float((model(splits.test_x).argmax(1) == splits.test_y).float().mean())
    assert accuracy == pytest.approx(metrics["accuracy"])
