"""A private TorchServe for the checks: archives built from the checkpoints, free 127.0.0.1 ports, a temp dir.

Also the process-level probes the checks need: the frontend (Java) process,
worker pids, resident memory, scaling.
"""

import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import psutil
import requests

from reliability.mix import CHECKPOINTS
from tools.torchserve import start_private
from tools.torchserve import bearer

ROOT = Path(__file__).resolve().parent.parent
SCALE_TIMEOUT_S = 180  # starting a worker loads torch and a checkpoint: seconds on a busy machine


def build_store(store, models, checkpoints=CHECKPOINTS, version=None) -> Path:
    """Models → `store` holding <model>.mar for each, written by archive.sh."""
    command = [str(ROOT / "archive.sh"), "--checkpoints", str(checkpoints),
               "--model-store", str(store), *(["--version", version] if version else []), *models]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    subprocess.run(command, cwd=ROOT, check=True, timeout=600, env=env, stdout=subprocess.DEVNULL)
    return Path(store)


@contextmanager
def private_server(models, checkpoints=CHECKPOINTS, **overrides):
    """Serve `models` from a fresh temp dir with config overrides → the running TorchServe, stopped after."""
    with tempfile.TemporaryDirectory(prefix="reliability-") as folder:
        store = build_store(Path(folder) / "model_store", models, checkpoints)
        (Path(folder) / "server").mkdir()
        server = start_private(Path(folder) / "server", store, **overrides)
        try:
            yield server
        except BaseException:
            print(server.log_tail(), file=sys.stderr)
            raise
        finally:
            server.stop()


def rss_mib(pid) -> float:
    """Process id → its resident memory in MiB."""
    return psutil.Process(pid).memory_info().rss / 2**20


def scale(server, model, count):
    """Run exactly `count` workers for `model`, waiting until they are up."""
    # TorchServe stops workers only above max_worker, so set both.
    response = requests.put(f"{server.management_url}/models/{model}",
                            params={"min_worker": count, "max_worker": count,
                                    "synchronous": "true"},
                            headers=bearer(server.management_key()), timeout=SCALE_TIMEOUT_S)
    response.raise_for_status()
