import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models.checkpoint import REQUIRED_KEYS, build_model, load_checkpoint
from training.digits_data import load_digit_splits

ROOT = Path(__file__).resolve().parent.parent


def test_dry_run_writes_checkpoint_metrics_and_curve(tmp_path):
    result = subprocess.run([sys.executable, "-m", "training.digits_cnn", "--dry-run", "--out",
                             str(tmp_path), "--version", "0.9"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "epoch   1/1  train_loss" in result.stdout
    assert "cleaning: 1797 rows in" in result.stdout

    checkpoint = load_checkpoint(tmp_path / "model.pt")
    assert set(REQUIRED_KEYS) <= set(checkpoint)
    assert checkpoint["version"] == "0.9"
    assert checkpoint["training"]["dry_run"] is True
    assert checkpoint["preprocessing"]["pixel_mean"] == checkpoint["model_args"]["pixel_mean"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics) >= {"accuracy", "per_class", "confusion_matrix"}
    assert (tmp_path / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_or_abbreviated_flags_fail_loudly(tmp_path):
    for flag in ("--epoch", "--learning-rate"):
        result = subprocess.run([sys.executable, "-m", "training.digits_cnn", "--dry-run",
                                 "--out", str(tmp_path), flag, "3"],
                                cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0 and "unrecognized arguments" in result.stderr
    assert not (tmp_path / "model.pt").exists()


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
