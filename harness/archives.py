"""Model stores built by archive.sh: the only caller of the script outside its own tests."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.settings import CHECKPOINTS, MODEL_CONFIG, ROOT, write_model_configs

ARCHIVE_TIMEOUT_S = 900  # an aoti archive compiles C++ for each model


def build_store(store, models, checkpoints=CHECKPOINTS, version=None, model_format=None,
                overrides=None, model_config=MODEL_CONFIG, handler_classes=None) -> Path:
    """Models → `store` holding <model>.mar for each, by archive.sh: from `checkpoints`, under
    `version` (default: the checkpoint's), in `model_format` (default: model-config's), with
    the model-config settings in `overrides` changed in every model's yaml, and with the workers
    building their handlers from the package `handler_classes` (default: handlers/ as it is)."""
    store = Path(store)
    with tempfile.TemporaryDirectory(prefix="model-config-") as changed:
        if overrides:
            model_config = write_model_configs(changed, models, overrides, model_config)
        command = [str(ROOT / "archive.sh"), "--checkpoints", str(checkpoints),
                   "--model-store", str(store), "--model-config", str(model_config),
                   *(["--version", str(version)] if version else []),
                   *(["--format", model_format] if model_format else []),
                   *(["--handler-classes", handler_classes] if handler_classes else []), *models]
        # archive.sh and the archiver must be this interpreter's; its errors go to stderr.
        subprocess.run(command, cwd=ROOT, check=True, timeout=ARCHIVE_TIMEOUT_S,
                       env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                                  f"{os.environ['PATH']}"},
                       stdout=subprocess.DEVNULL)
    return store
