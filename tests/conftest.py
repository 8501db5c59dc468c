"""Shared fixtures: trained checkpoints, archives built by archive.sh, and a real TorchServe.

The server fixture starts `torchserve` on free 127.0.0.1 ports with a config
derived from the repository's config.properties (only addresses and the model
store change), waits until every worker is READY, and stops it afterwards.
When a test that used it fails, the server's log tail is added to the report.
"""

import subprocess
import sys

import pytest
import torch

from harness.archives import build_store
from harness.settings import ROOT, model_families
from harness.torchserve import start_private
from models.checkpoint import load_checkpoint
from tests.scripts import run_training
from tests.under_test import CHECKPOINT_DIR, MODELS

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


def checkpoint_fixture(model):
    """A family → the session fixture <family>_checkpoint: its checkpoint under test, loaded."""
    @pytest.fixture(scope="session", name=f"{model}_checkpoint")
    def loaded(checkpoint_dir):
        return load_checkpoint(checkpoint_dir / model / "model.pt")
    return loaded


for _family in model_families():
    globals()[f"{_family}_checkpoint"] = checkpoint_fixture(_family)


@pytest.fixture(scope="session")
def dry_run(checkpoint_dir, tmp_path_factory):
    """Family → (what its training script's dry run printed, the folder it wrote), run once per
    session in this process with --version 0.9, beside the other families' checkpoints under
    test (digits_gan's is judged by the digits_cnn beside it)."""
    runs = {}

    def run(family):
        if family not in runs:
            beside = tmp_path_factory.mktemp(f"{family}_dry_run")
            for other in set(MODELS) - {family}:
                (beside / other).symlink_to(checkpoint_dir / other)
            printed = run_training(family, "--dry-run", "--out", beside / family, "--version", "0.9")
            runs[family] = printed, beside / family
        return runs[family]
    return run


@pytest.fixture(autouse=True)
def torch_threads_kept():
    """Training scripts run in this process set torch's thread count: put it back after each test."""
    threads = torch.get_num_threads()
    yield
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


# The batching server: models batch up to BATCH_SIZE requests waiting BATCH_DELAY_MS, one
# worker each, so that concurrent requests share worker calls.
BATCH_SIZE = 8
BATCH_DELAY_MS = 200  # long enough for concurrent requests to share a batch


@pytest.fixture(scope="session")
def batching_server(checkpoint_dir, tmp_path_factory):
    """A private TorchServe whose models batch up to BATCH_SIZE requests waiting BATCH_DELAY_MS,
    one worker each, shared by the tests of batches (bad input, protocols, the generator's
    bytes); its log has a line per answered job, for largest_batch."""
    store = build_store(tmp_path_factory.mktemp("batching_store"), MODELS, checkpoint_dir,
                        overrides={"minWorkers": 1, "maxWorkers": 1, "batchSize": BATCH_SIZE,
                                   "maxBatchDelay": BATCH_DELAY_MS})
    # With TorchServe's line per answered job, so that tests can read the batches formed.
    running = start_private(tmp_path_factory.mktemp("batching_torchserve"), store, log_jobs=True)
    yield running
    running.stop()


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

