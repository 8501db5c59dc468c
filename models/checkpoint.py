"""Versioned checkpoints that carry everything needed to rebuild and serve a model."""

import importlib
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

# Bumped when the checkpoint layout changes, so old files fail loudly, not subtly.
CHECKPOINT_FORMAT = 1

REQUIRED_KEYS = ("format", "family", "version", "model_args", "state_dict", "labels",
                 "preprocessing", "metrics", "data", "torch_version")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be served: wrong format, unknown family, missing keys."""


def architecture(family: str) -> type:
    """Family name → its nn.Module class: `ARCHITECTURE` in models/<family>.py.

    A checkpoint names its family, never code of its own, so it can only pick
    among this package's modules.
    """
    if not isinstance(family, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", family):
        raise CheckpointError(f"invalid model family {family!r}")
    try:
        module = importlib.import_module(f"models.{family}")
    except ModuleNotFoundError:
        raise CheckpointError(f"unknown model family {family!r}") from None
    if not hasattr(module, "ARCHITECTURE"):
        raise CheckpointError(f"unknown model family {family!r}")
    return module.ARCHITECTURE


def save_checkpoint(path, *, family, version, model, model_args, labels, preprocessing,
                    metrics, data, training):
    """Write a checkpoint dict to `path` atomically; returns the dict written."""
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "family": family,
        "version": str(version),
        "model_args": dict(model_args),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "labels": list(labels),
        "preprocessing": dict(preprocessing),
        "metrics": metrics,
        "data": dict(data),
        "training": dict(training),
        "torch_version": str(torch.__version__),  # TorchVersion is not weights_only-safe
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a crash mid-save never leaves a half checkpoint behind.
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(checkpoint, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return checkpoint


def load_checkpoint(path):
    """Checkpoint file → dict, refusing pickled code (weights_only=True) and unknown layouts."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path}: not a checkpoint dict")
    missing = [key for key in REQUIRED_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{path}: missing {', '.join(missing)}")
    if checkpoint["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {checkpoint['format']}, this code reads {CHECKPOINT_FORMAT}")
    architecture(checkpoint["family"])
    return checkpoint


def build_model(checkpoint, device="cpu") -> nn.Module:
    """Checkpoint dict → the model it describes, weights loaded, in eval mode on `device`."""
    model = architecture(checkpoint["family"])(**checkpoint["model_args"])
    model.load_state_dict(checkpoint["state_dict"], strict=True)
    return model.to(device).eval()
