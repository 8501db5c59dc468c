"""Versioned checkpoints that carry everything needed to rebuild and serve a model."""

import hashlib
import importlib
import importlib.util
import os
import re
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

from models.brought import BroughtNetwork, BroughtProgram
from models.program_files import STATE_DICT

# Bumped when the checkpoint layout changes, so old files fail loudly, not subtly.
CHECKPOINT_FORMAT = 1
# A model brought from elsewhere (tools.bring_model) adds "brought" and model_args of its own
# class: a reader of format 1 would build the family's architecture from them, so it must refuse.
BROUGHT_FORMAT = 2

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


def network_file(family: str) -> Path:
    """Family → the file holding the class of a state_dict brought for it: models/<family>_network.py."""
    architecture(family)  # a valid family name, so the path stays in this package
    return Path(__file__).resolve().parent / f"{family}_network.py"


def network_class(family: str, name: str, sha256: str) -> type:
    """Family, class name and the sha256 the checkpoint recorded → that class from the family's
    models/<family>_network.py, run from the file's source as it is now; raises CheckpointError
    when the file changed since the model was brought, or lacks the class."""
    path = network_file(family)
    if not isinstance(name, str) or not name.isidentifier():
        raise CheckpointError(f"invalid class name {name!r}")
    try:
        source = path.read_bytes()
    except OSError:
        raise CheckpointError(f"{path.name} is missing; it holds the class {name} of the "
                              "brought model") from None
    # The weights were checked against this source; a drifted copy would load them silently.
    if hashlib.sha256(source).hexdigest() != sha256:
        raise CheckpointError(f"{path.name} changed since the model was brought (sha256 differs); "
                              "bring the model again with python -m tools.bring_model")
    # Run from the bytes just checked, not from a cached import of an older version.
    module_name = f"models.{path.stem}"
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(module_name, None))
    module.__file__ = str(path)
    sys.modules[module_name] = module
    exec(compile(source, str(path), "exec"), module.__dict__)
    found = getattr(module, name, None)
    if not (isinstance(found, type) and issubclass(found, nn.Module)):
        raise CheckpointError(f"{path.name} has no nn.Module class {name}")
    return found


def new_model(checkpoint) -> nn.Module:
    """Checkpoint dict → the model it describes, weights not yet loaded: the family's architecture,
    or for a brought model its program, or its class from the family's network file."""
    brought, model_args = checkpoint.get("brought"), checkpoint["model_args"]
    if not brought:
        return architecture(checkpoint["family"])(**model_args)
    if brought["format"] == STATE_DICT:
        network = network_class(checkpoint["family"], brought["class"], brought["class_sha256"])
        return BroughtNetwork(network(**model_args))
    return BroughtProgram(**model_args)


def save_checkpoint(path, *, family, version, model, model_args, labels, preprocessing,
                    metrics, data, training, brought=None):
    """Write a checkpoint dict to `path` atomically; returns the dict written. `brought`: where a
    model trained elsewhere came from (tools.bring_model), None for one trained here."""
    checkpoint = {
        "format": BROUGHT_FORMAT if brought else CHECKPOINT_FORMAT,
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
        **({"brought": dict(brought)} if brought else {}),
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
    expected = BROUGHT_FORMAT if "brought" in checkpoint else CHECKPOINT_FORMAT
    if checkpoint["format"] != expected:
        raise CheckpointError(f"{path}: checkpoint format {checkpoint['format']}, this code reads "
                              f"{CHECKPOINT_FORMAT} (trained here) and {BROUGHT_FORMAT} (brought)")
    architecture(checkpoint["family"])
    return checkpoint


def build_model(checkpoint, device="cpu") -> nn.Module:
    """Checkpoint dict → the model it describes, weights loaded, in eval mode on `device`."""
    model = new_model(checkpoint)
    model.load_state_dict(checkpoint["state_dict"], strict=True)
    return model.to(device).eval()
