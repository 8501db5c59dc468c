"""Checkpoints: saved atomically, rebuilt from their constructor arguments, loaded weights_only;
a family outside models/, missing keys or code inside are refused."""

import pickle

import pytest
import torch

from harness.examples import hook, subject
from models.checkpoint import (BROUGHT_FORMAT, CHECKPOINT_FORMAT, CheckpointError, build_model,
                               load_checkpoint, save_checkpoint)
from tests.hostile import WritesMarker

MODEL = subject("checkpoint")


def small_checkpoint(path, **changes):
    """The subject family's small untrained model saved at `path` → (save_checkpoint's
    arguments, a batch of its inputs)."""
    family_arguments, batch = hook(MODEL, "small_checkpoint")()
    arguments = dict(version="0.1", metrics={"accuracy": 0.5}, data={"source": "test"},
                     training={"epochs": 0}, **family_arguments)
    arguments.update(changes)
    save_checkpoint(path, **arguments)
    return arguments, batch


def test_checkpoint_round_trip_rebuilds_the_same_model(tmp_path):
    arguments, batch = small_checkpoint(tmp_path / "model.pt")
    model = arguments["model"].eval()
    checkpoint = load_checkpoint(tmp_path / "model.pt")
    assert checkpoint["family"] == MODEL and checkpoint["version"] == "0.1"
    assert checkpoint["torch_version"] == str(torch.__version__)
    assert checkpoint["labels"] == list(arguments["labels"])
    rebuilt = build_model(checkpoint)
    with torch.inference_mode():
        assert torch.equal(rebuilt(batch), model(batch))
    assert not list(tmp_path.glob("*.tmp"))  # the atomic write left nothing behind


@pytest.mark.parametrize("family, problem", [("not_a_model", "unknown model family"),
                                             ("checkpoint", "unknown model family"),
                                             ("os.path", "invalid model family"),
                                             (f"../{MODEL}", "invalid model family")])
def test_a_family_outside_the_models_package_is_refused(tmp_path, family, problem):
    small_checkpoint(tmp_path / "model.pt", family=family)
    with pytest.raises(CheckpointError, match=problem):
        load_checkpoint(tmp_path / "model.pt")


def test_missing_keys_are_named(tmp_path):
    torch.save({"format": 1, "family": MODEL}, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="missing version, model_args"):
        load_checkpoint(tmp_path / "model.pt")


def test_a_brought_model_is_written_in_a_format_only_readers_of_brought_models_take(tmp_path):
    # A format-1 reader would build the family's own architecture from a brought model's arguments.
    small_checkpoint(tmp_path / "model.pt", brought={"format": "state_dict"})
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    assert checkpoint["format"] == BROUGHT_FORMAT != CHECKPOINT_FORMAT
    checkpoint["format"] = CHECKPOINT_FORMAT
    torch.save(checkpoint, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match=r"format 1, this code reads 1 \(trained here\) and 2"):
        load_checkpoint(tmp_path / "model.pt")


def test_a_checkpoint_carrying_code_is_refused_before_the_code_runs(tmp_path):
    marker = tmp_path / "code-ran"
    torch.save({"state_dict": {}, "payload": WritesMarker(marker)}, tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()
    # The same file does run its payload when loaded the unsafe way.
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.exists()
