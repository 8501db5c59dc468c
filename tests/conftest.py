"""Shared fixtures: trained checkpoints, archives built by archive.sh, and a real TorchServe.

The server fixture starts `torchserve` on free 127.0.0.1 ports with a config
derived from the repository's config.properties (only addresses and the model
store change), waits until every worker is READY, and stops it afterwards.
When a test that used it fails, the server's log tail is added to the report.
"""

import os
import socket
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from models.checkpoint import load_checkpoint
from tools.torchserve import TorchServe, archived_model_names, read_properties, write_properties

ROOT = Path(__file__).resolve().parent.parent
# Every model family with serving settings, or only those named in TEST_MODELS
# (comma-separated) to work on a few families at a time.
MODELS = (os.environ["TEST_MODELS"].split(",") if os.environ.get("TEST_MODELS")
          else sorted(path.stem for path in (ROOT / "model-config").glob("*.yaml")))
# Extra training flags, given the folder of checkpoints trained so far (MODELS is
# sorted, so digits_cnn is trained before digits_gan needs it).
TRAINING_ARGS = {
    "digits_gan": lambda folder: ["--classifier", str(folder / "digits_cnn" / "model.pt")],
}
SERVER_READY_TIMEOUT_S = 180


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory):
    """Folder with <model>/model.pt for every model: the repository's, or trained here when missing."""
    folder = tmp_path_factory.mktemp("checkpoints")
    for model in MODELS:
        trained = ROOT / "checkpoints" / model
        if (trained / "model.pt").exists():
            (folder / model).symlink_to(trained)
            continue
        extra = TRAINING_ARGS[model](folder) if model in TRAINING_ARGS else []
        subprocess.run([sys.executable, "-m", f"training.{model}", "--out", str(folder / model),
                        *extra], cwd=ROOT, check=True, timeout=600)
    return folder


@pytest.fixture(scope="session")
def digits_checkpoint(checkpoint_dir):
    return load_checkpoint(checkpoint_dir / "digits_cnn" / "model.pt")


@pytest.fixture(scope="session")
def model_store(checkpoint_dir, tmp_path_factory):
    """A model store holding every model's .mar, built by archive.sh."""
    store = tmp_path_factory.mktemp("model_store")
    subprocess.run([str(ROOT / "archive.sh"), "--checkpoints", str(checkpoint_dir),
                    "--model-store", str(store), *MODELS], cwd=ROOT, check=True, timeout=600,
                   env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    return store


def free_ports(count):
    """`count` distinct free TCP ports on 127.0.0.1."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def server_config(workdir, model_store, **overrides) -> Path:
    """The repository's config.properties with fresh loopback ports and the given model store."""
    inference, management, metrics, grpc_inference, grpc_management = free_ports(5)
    properties = read_properties(ROOT / "config.properties")
    properties.update({
        "inference_address": f"http://127.0.0.1:{inference}",
        "management_address": f"http://127.0.0.1:{management}",
        "metrics_address": f"http://127.0.0.1:{metrics}",
        "grpc_inference_port": grpc_inference,
        "grpc_management_port": grpc_management,
        "model_store": str(model_store),
    })
    properties.update(overrides)
    path = Path(workdir) / "config.properties"
    write_properties(path, properties)
    return path


def start_server(workdir, model_store, **overrides) -> TorchServe:
    """Start a TorchServe in `workdir` and wait until every archived model is READY."""
    workdir = Path(workdir)
    (workdir / "tmp").mkdir(exist_ok=True)
    server = TorchServe(workdir, server_config(workdir, model_store, **overrides),
                        private_tmp=workdir / "tmp")
    server.start()
    try:
        server.wait_until_ready(archived_model_names(model_store), SERVER_READY_TIMEOUT_S)
    except Exception:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def server(model_store, tmp_path_factory):
    """A running TorchServe serving every model, shared by the integration tests."""
    running = start_server(tmp_path_factory.mktemp("torchserve"), model_store)
    yield running
    running.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and "server" in getattr(item, "funcargs", {}):
        report.sections.append(("TorchServe log tail", item.funcargs["server"].log_tail()))

