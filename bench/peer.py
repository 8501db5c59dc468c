"""The peer figures: the same digits_cnn checkpoint and handler code behind LitServe, same load.

Starts bench.litserve_peer in its own session on a free loopback port with a
random API key (LitServe's X-API-Key), waits for /health, measures every
concurrency with the JSON body TorchServe is measured with too, and stops it.
"""

import os
import secrets
import subprocess
import sys
import tempfile
import time

import psutil
import requests

from bench.points import measure_point
from bench.sweep import describe, expected_calls, json_image_body
from harness.settings import ROOT, model_settings as settings
from harness.settings import model_format as format_for
from harness.torchserve import HTTP_TIMEOUT, free_ports, stop_process_group

START_TIMEOUT_S = 180


def start(model, port, workers, key, log_file, model_format):
    """Launch the LitServe peer → its process (in its own session)."""
    command = [sys.executable, "-m", "bench.litserve_peer", "--model", model, "--port", str(port),
               "--workers", str(workers), "--format", model_format]
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, "LIT_SERVER_API_KEY": key},
                            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(process, url, key, log_path):
    """Block until GET /health (behind the key too) answers 200; raises RuntimeError with the
    peer's log when it never does."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if requests.get(f"{url}/health", headers={"X-API-Key": key},
                            timeout=HTTP_TIMEOUT).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    with open(log_path, errors="replace") as log:
        raise RuntimeError(f"LitServe peer did not get healthy:\n{log.read()[-3000:]}")


def measure_peer(model, workers, concurrencies, seconds, warm_up_s, model_format=None,
                 log=print) -> list:
    """LitServe with the model's batch settings and format (None: model-config's) → one figure
    dict per concurrency."""
    model_format = format_for(model, model_format)
    [port] = free_ports(1)
    url, key = f"http://127.0.0.1:{port}", secrets.token_urlsafe(24)
    calls = expected_calls(model, [json_image_body()], model_format)
    points = []
    with tempfile.NamedTemporaryFile(prefix="litserve-", suffix=".log") as log_file:
        log(f"starting LitServe peer for {model}, {workers} worker(s) …")
        process = start(model, port, workers, key, log_file, model_format)
        try:
            wait_healthy(process, url, key, log_file.name)
            launcher = psutil.Process(process.pid)
            roles = {"server": [launcher, *launcher.children(recursive=True)]}
            for concurrency in concurrencies:
                figures = measure_point(lambda call: f"{url}/predict", calls, concurrency, seconds,
                                        warm_up_s, lambda: {"X-API-Key": key}, roles)
                point = {"kind": "peer", "stack": "litserve", "model": model, "body": "json",
                         "batching": True, "batch_size": int(settings(model).get("batchSize", 1)),
                         "workers": workers, "concurrency": concurrency, **figures}
                points.append(point)
                log(describe(point))
        finally:
            stop_process_group(process, timeout_s=30)
    return points
