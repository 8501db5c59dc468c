"""Every family's training script: unknown or abbreviated flags fail loudly, and a dry run
writes a checkpoint in the project's format, its metrics.json and a picture of its training."""

import json

import pytest

from tests.under_test import MODELS
from models.checkpoint import REQUIRED_KEYS, build_model, load_checkpoint
from tests.scripts import own_flags, run_training

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("family", MODELS)
def test_unknown_or_abbreviated_flags_fail_loudly(family, tmp_path, capsys):
    flags = own_flags(family)
    assert {"--epochs", "--dry-run", "--out", "--version"} <= set(flags)
    abbreviated = [flag[:-1] for flag in flags if flag[:-1] not in flags]
    for flag in ["--learning-rate", *abbreviated]:
        with pytest.raises(SystemExit) as stop:
            run_training(family, "--dry-run", "--out", tmp_path, flag, "3")
        assert stop.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err, flag
    assert not (tmp_path / "model.pt").exists()


@pytest.mark.parametrize("family", MODELS)
def test_dry_run_writes_checkpoint_metrics_and_a_picture(family, dry_run):
    printed, out = dry_run(family)
    assert "epoch   1/1" in printed and "cleaning: " in printed

    checkpoint = load_checkpoint(out / "model.pt")  # weights_only=True
    assert set(REQUIRED_KEYS) <= set(checkpoint)
    assert checkpoint["family"] == family and checkpoint["version"] == "0.9"
    assert checkpoint["training"]["dry_run"] is True
    assert json.loads((out / "metrics.json").read_text()) == checkpoint["metrics"]
    pictures = list(out.glob("*.png"))
    assert pictures and all(picture.read_bytes()[:8] == PNG for picture in pictures)
    build_model(checkpoint)  # rebuilds from model_args alone
