"""Shared fixtures: trained checkpoints, archives built by archive.sh, and a real TorchServe.

The server fixture starts `torchserve` on free 127.0.0.1 ports with a config
derived from the repository's config.properties (only addresses and the model
store change), waits until every worker is READY, and stops it afterwards.
When a test that used it fails, the server's log tail is added to the report.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.checkpoint import load_checkpoint
from harness.archives import build_store
from harness.settings import model_families
from harness.torchserve import start_private

ROOT = Path(__file__).resolve().parent.parent
# Every model family with serving settings, or only those named in TEST_MODELS
# (comma-separated) to work on a few families at a time.
MODELS = (os.environ["TEST_MODELS"].split(",") if os.environ.get("TEST_MODELS")
          else model_families())
# The checkpoints under test: `make test` sets CHECKPOINT_DIR (checkpoints/seed-3 for
# TRAIN_SEED=3 make test); run by hand, the repository's checkpoints/.
CHECKPOINT_DIR = Path(os.environ.get("CHECKPOINT_DIR") or ROOT / "checkpoints")
if not CHECKPOINT_DIR.is_absolute():
    CHECKPOINT_DIR = ROOT / CHECKPOINT_DIR


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory):
    """Folder with <model>/model.pt for every model: CHECKPOINT_DIR's, or trained here when missing.

    MODELS is sorted, so a model trained here finds the ones it builds on (digits_gan
    is judged by the digits_cnn beside it) already in the folder.
    """
    folder = tmp_path_factory.mktemp("checkpoints")
    for model in MODELS:
        trained = CHECKPOINT_DIR / model
        if (trained / "model.pt").exists():
            (folder / model).symlink_to(trained)
            continue
        subprocess.run([sys.executable, "-m", f"training.{model}", "--out", str(folder / model)],
                       cwd=ROOT, check=True, timeout=600)
    return folder


@pytest.fixture(scope="session")
def digits_checkpoint(checkpoint_dir):
    return load_checkpoint(checkpoint_dir / "digits_cnn" / "model.pt")


def start_batching_server(checkpoint_dir, tmp_path_factory, batch_size, delay_ms):
    """A private TorchServe whose models batch up to `batch_size` requests waiting `delay_ms`,
    one worker each, so that concurrent requests share worker calls."""
    store = build_store(tmp_path_factory.mktemp("batching_store"), MODELS, checkpoint_dir,
                        overrides={"minWorkers": 1, "maxWorkers": 1, "batchSize": batch_size,
                                   "maxBatchDelay": delay_ms})
    return start_private(tmp_path_factory.mktemp("batching_torchserve"), store)


@pytest.fixture(scope="session")
def model_store(checkpoint_dir, tmp_path_factory):
    """A model store holding every model's .mar, built by archive.sh."""
    return build_store(tmp_path_factory.mktemp("model_store"), MODELS, checkpoint_dir)


@pytest.fixture(scope="session")
def server(model_store, tmp_path_factory):
    """A running TorchServe serving every model, shared by the integration tests."""
    running = start_private(tmp_path_factory.mktemp("torchserve"), model_store)
    yield running
    running.stop()


# Fixtures that build archives with archive.sh or start a server (TorchServe, kserve's):
# every test that uses one, directly or through another fixture, is marked `serving`,
# and `make test-fast` (pytest -m "not serving") leaves it out.
SERVING_FIXTURES = frozenset({"model_store", "batching_server", "aoti_server", "kserve_server",
                              "bundle", "quick_run"})


def pytest_collection_modifyitems(items):
    for item in items:
        if SERVING_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.serving)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and "server" in getattr(item, "funcargs", {}):
        report.sections.append(("TorchServe log tail", item.funcargs["server"].log_tail()))

