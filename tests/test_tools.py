"""config.properties' safe defaults, the key helper against a real server, and make serve's start/stop tool."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from harness.examples import sample_body, subject
from harness.torchserve import CLOSED_ADDRESS, private_config, start_private
from harness.torchserve import HTTP_TIMEOUT, KeyFile, bearer, read_properties
from tests.calls import post

ROOT = Path(__file__).resolve().parent.parent
CONFIG = read_properties(ROOT / "config.properties")
MODEL = subject("tools")  # the model the keys are tried on and make serve's output names


def test_config_binds_every_api_to_loopback():
    for key in ("inference_address", "management_address", "metrics_address"):
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", CONFIG[key]), key
    # gRPC, which TorchServe cannot switch off, sits on an address that refuses every connection.
    assert CONFIG["grpc_inference_address"] == CONFIG["grpc_management_address"] == CLOSED_ADDRESS


def test_config_keeps_the_safe_defaults_explicit():
    assert CONFIG["disable_token_authorization"] == "false"
    assert CONFIG["enable_model_api"] == "false"
    assert CONFIG["enable_envvars_config"] == "false"
    assert CONFIG["metrics_mode"] == "prometheus"
    assert float(CONFIG["token_expiration_min"]) > 0
    for key in ("default_workers_per_model", "job_queue_size", "max_request_size"):
        assert int(CONFIG[key]) > 0, key


def test_allowed_urls_matches_no_url_so_only_the_model_store_can_register():
    # TorchServe matches each comma-separated pattern against the whole URL.
    patterns = [re.compile(p, re.IGNORECASE) for p in CONFIG["allowed_urls"].split(",")]
    for url in ("https://example.com/model.mar", "http://169.254.169.254/latest/meta-data",
                "file:///etc/passwd", f"file:///tmp/model_store/{MODEL}.mar"):
        assert not any(p.fullmatch(url) for p in patterns), url


def test_every_setting_in_config_says_why():
    lines = (ROOT / "config.properties").read_text().splitlines()
    for index, line in enumerate(lines):
        if line and not line.startswith("#"):
            block = lines[:index]
            # Walk up through the settings of this block to its comment.
            while block and block[-1] and not block[-1].startswith("#"):
                block.pop()
            assert block and block[-1].startswith("#"), f"no comment above {line!r}"


def test_key_file_expiry_reads_java_timestamps(tmp_path):
    path = tmp_path / "key_file.json"
    soon = datetime.now(timezone.utc) + timedelta(seconds=5)
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    path.write_text(json.dumps({
        "inference": {"key": "a", "expiration time": soon.strftime("%Y-%m-%dT%H:%M:%S.%f123Z")},
        "management": {"key": "b", "expiration time": later.strftime("%Y-%m-%dT%H:%M:%S.%f123Z")},
        "API": {"key": "c"},
    }))
    keys = KeyFile(path)
    assert keys.expired("inference") and not keys.expired("management")
    assert keys.key("API") == "c"


def keys_command(server, *args):
    env = {**os.environ, "TORCHSERVE_KEY_FILE": str(server.keys.path),
           "TORCHSERVE_CONFIG": str(server.config_path)}
    result = subprocess.run([sys.executable, "-m", "tools.keys", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def predict_status(server, key):
    return post(server, MODEL, *sample_body(MODEL), key=key).status_code


def test_keys_are_renewed_when_expired_and_rotated_on_demand(model_store, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    shutil.copy(model_store / f"{MODEL}.mar", store)
    # Keys that live six seconds: expiry happens within the test, and a renewed
    # key lives long enough to be tried.
    server = start_private(tmp_path, store, token_expiration_min=0.1)
    try:
        first = server.keys.key("inference")
        first_management = server.keys.key("management")
        while not server.keys.expired("inference", margin_s=-0.5) or \
                not server.keys.expired("management", margin_s=-0.5):
            time.sleep(0.2)
        assert predict_status(server, first) == 400
        expired_management = requests.get(f"{server.management_url}/models",
                                          headers=bearer(first_management), timeout=HTTP_TIMEOUT)
        assert expired_management.status_code == 400
        assert expired_management.json()["type"] == "InvalidKeyException"

        renewed = keys_command(server, "inference")
        assert renewed != first
        assert predict_status(server, renewed) == 200
        assert predict_status(server, first) == 400

        rotated = keys_command(server, "inference", "--renew")
        assert rotated not in (first, renewed)
        assert predict_status(server, rotated) == 200
        assert predict_status(server, renewed) == 400
    finally:
        server.stop()


@pytest.mark.parametrize("model_api", [False, True], ids=["model_api_off", "model_api_on"])
def test_serve_tool_starts_once_and_stops(model_store, tmp_path, model_api):
    # One model: what is checked is the tool's start and stop, not every model's workers.
    store = tmp_path / "store"
    store.mkdir()
    shutil.copy(model_store / f"{MODEL}.mar", store)
    config = private_config(tmp_path, store, enable_model_api=str(model_api).lower())
    # A private temp dir keeps this server's pid file apart from any `make serve`.
    env = {**os.environ, "TMPDIR": str(tmp_path), "TEMP": str(tmp_path)}

    def serve(action):
        return subprocess.run([sys.executable, "-m", "tools.serve", action, "--config",
                               str(config)], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=240)

    try:
        started = serve("start")
        assert started.returncode == 0, started.stderr + started.stdout
        assert f"{MODEL}: 1 worker(s) READY" in started.stdout
        assert f"/predictions/{MODEL}" in started.stdout
        assert (tmp_path / "key_file.json").exists()

        # With the model API on, the management address is the gateway's.
        assert (tmp_path / "logs" / "management_gateway.pid").exists() == model_api
        management = KeyFile(tmp_path / "key_file.json").key("management")
        listed = requests.get(f"{read_properties(config)['management_address']}/models",
                              headers=bearer(management), timeout=HTTP_TIMEOUT)
        assert listed.status_code == 200

        again = serve("start")
        assert again.returncode == 0, again.stderr
        assert "already running" in again.stdout
    finally:
        stopped = serve("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not (tmp_path / "key_file.json").exists()
    assert not (tmp_path / "logs" / "management_gateway.pid").exists()
    for address in ("inference_address", "management_address"):
        assert not answers(read_properties(config)[address]), address


def answers(url) -> bool:
    """Whether anything still listens at `url`."""
    try:
        requests.get(f"{url}/ping", timeout=5)
        return True
    except requests.ConnectionError:
        return False
