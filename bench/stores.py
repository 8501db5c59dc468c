"""Model stores for the benchmark: each model with batching on or off, and a no-op twin of each.

Batching on is the tuned setting in model-config/<model>.yaml; off is the same
file with batchSize 1. A "before" store's workers run the handlers as they were
before issue 15 (archive.sh --handler-classes bench.handlers_before). The no-op twin `noop_<model>` ships the same yaml, so it
is served with the same batching and workers, but answers a constant.
"""

import os
import subprocess
import sys
from pathlib import Path

from bench import handlers_before
from harness import archives
from harness.settings import ROOT, write_model_configs

NOOP_HANDLER = Path(__file__).resolve().parent / "noop_handler.py"


def checkpoint(model) -> Path:
    """Model → its trained checkpoint: checkpoints/<model>/model.pt, or under $BENCH_CHECKPOINTS
    (python -m bench --checkpoints DIR sets it, so the LitServe peer process sees it too)."""
    return Path(os.environ.get("BENCH_CHECKPOINTS") or ROOT / "checkpoints") / model / "model.pt"


def noop_name(model) -> str:
    return f"noop_{model}"


def config_dir(folder, models, batching: bool) -> Path:
    """The repository's model-config files for `models`, with batchSize 1 when batching is off."""
    return write_model_configs(folder, models, None if batching else {"batchSize": 1})


def build_store(store, models, configs, model_format=None, before=False) -> Path:
    """Models, a model-config folder and a format (None: each model-config's) → `store` with
    <model>.mar and noop_<model>.mar for each; with `before`, <model>.mar alone, whose workers
    run the handlers as they were before issue 15 (bench.handlers_before.handler_class)."""
    store = archives.build_store(store, models, checkpoint(models[0]).parent.parent,
                                 model_format=model_format, model_config=configs,
                                 handler_classes=handlers_before.__name__ if before else None)
    if before:
        return store
    for model in models:
        # The twin has no checkpoint for archive.sh to package: the archiver itself builds it.
        subprocess.run([str(Path(sys.executable).parent / "torch-model-archiver"),
                        "--model-name", noop_name(model), "--version", "1",
                        "--handler", str(NOOP_HANDLER),
                        "--config-file", str(Path(configs) / f"{model}.yaml"),
                        "--export-path", str(store), "--force"],
                       cwd=ROOT, check=True, timeout=300)
    return store
