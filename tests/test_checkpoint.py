import pickle

import pytest
import torch

from models.checkpoint import CheckpointError, build_model, load_checkpoint, save_checkpoint
from models.digits_cnn import LABELS, DigitsCNN
from tests.hostile import WritesMarker


def small_checkpoint(path, **changes):
    model = DigitsCNN(pixel_mean=5.0, pixel_std=6.0, channels=(4, 8), hidden=16)
    arguments = dict(family="digits_cnn", version="0.1", model=model,
                     model_args={"pixel_mean": 5.0, "pixel_std": 6.0, "channels": (4, 8),
                                 "hidden": 16},
                     labels=LABELS, preprocessing={"image_size": 8}, metrics={"accuracy": 0.5},
                     data={"source": "test"}, training={"epochs": 0})
    arguments.update(changes)
    save_checkpoint(path, **arguments)
    return model


def test_model_maps_a_batch_of_digits_to_ten_logits():
    model = DigitsCNN(pixel_mean=5.0, pixel_std=6.0).eval()
    assert model(torch.rand(7, 1, 8, 8) * 16).shape == (7, 10)


def test_checkpoint_round_trip_rebuilds_the_same_model(tmp_path):
    model = small_checkpoint(tmp_path / "model.pt").eval()
    checkpoint = load_checkpoint(tmp_path / "model.pt")
    assert checkpoint["family"] == "digits_cnn" and checkpoint["version"] == "0.1"
    assert checkpoint["torch_version"] == str(torch.__version__)
    assert checkpoint["labels"] == list(LABELS)
    rebuilt = build_model(checkpoint)
    pixels = torch.rand(3, 1, 8, 8) * 16
    with torch.inference_mode():
        assert torch.equal(rebuilt(pixels), model(pixels))
    assert not list(tmp_path.glob("*.tmp"))  # the atomic write left nothing behind


@pytest.mark.parametrize("family, problem", [("not_a_model", "unknown model family"),
                                             ("checkpoint", "unknown model family"),
                                             ("os.path", "invalid model family"),
                                             ("../digits_cnn", "invalid model family")])
def test_a_family_outside_the_models_package_is_refused(tmp_path, family, problem):
    small_checkpoint(tmp_path / "model.pt", family=family)
    with pytest.raises(CheckpointError, match=problem):
        load_checkpoint(tmp_path / "model.pt")


def test_missing_keys_are_named(tmp_path):
    torch.save({"format": 1, "family": "digits_cnn"}, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="missing version, model_args"):
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
