"""Secure by default, checked on a real TorchServe: loopback only, registration only from the model store,
no code from checkpoints, nothing secret in git."""

import ipaddress
import pickle
import shutil
import socket
import subprocess
import zipfile
from pathlib import Path

import psutil
import pytest
import requests
import torch
from ts.context import Context

from handlers.torchserve_handler import TorchServeHandler
from harness.archives import build_store
from harness.examples import sample_body, subject
from harness.torchserve import start_private
from harness.torchserve import CLOSED_ADDRESS, HTTP_TIMEOUT, bearer
from tests.hostile import WritesMarker
from tests.in_process import assert_same_answers, expected_answers

ROOT = Path(__file__).resolve().parent.parent
MODEL = subject("gateway")  # the model registered and unregistered from the store
ARCHIVE = f"{MODEL}.mar"


def test_every_api_listens_on_loopback_only(server):
    listening = [(process.pid, connection.laddr)
                 for process in server.processes()
                 for connection in process.net_connections(kind="inet")
                 if connection.status == psutil.CONN_LISTEN]
    # Inference, management and metrics on loopback; the two gRPC APIs, which TorchServe
    # cannot switch off, on a multicast address that refuses every TCP connection.
    assert len(listening) >= 5
    assert {ipv4(address.ip) for _, address in listening} == {"127.0.0.1", CLOSED_ADDRESS}, \
        listening
    for _, address in listening:
        if ipv4(address.ip) == CLOSED_ADDRESS:
            with pytest.raises(OSError):
                socket.create_connection((CLOSED_ADDRESS, address.port), timeout=2).close()


def ipv4(ip: str) -> str:
    """Java listens on dual-stack sockets: "::ffff:127.0.0.1" is IPv4's 127.0.0.1."""
    address = ipaddress.ip_address(ip)
    return str(getattr(address, "ipv4_mapped", None) or address)


@pytest.fixture(scope="module")
def open_registration(model_store, checkpoint_dir, tmp_path_factory):
    """A server with the model API switched on (so behind the management gateway), a second
    version of MODEL in its store, and an unpacked model folder outside the store."""
    workdir = tmp_path_factory.mktemp("model_api")
    store = workdir / "store"
    store.mkdir()
    shutil.copy(model_store / ARCHIVE, store)
    outside = workdir / "outside" / "unpacked"
    with zipfile.ZipFile(store / ARCHIVE) as mar:
        mar.extractall(outside)
    shutil.copy(store / ARCHIVE, workdir / "outside" / "copy.mar")

    server = start_private(workdir, store, enable_model_api="true")
    # Added after the start, which loads every archive in the store.
    build_store(workdir, [MODEL], checkpoint_dir, version="2.0")
    (workdir / ARCHIVE).rename(store / f"{MODEL}_v2.mar")
    yield server, outside
    server.stop()


def register(server, **parameters):
    return requests.post(f"{server.management_url}/models", params=parameters,
                         headers=bearer(server.management_key()), timeout=120)


@pytest.mark.parametrize("url", [
    f"https://example.com/{ARCHIVE}",
    "http://169.254.169.254/latest/meta-data/",
    "file:///etc/passwd",
    "OUTSIDE/unpacked",  # an unpacked model folder outside the store: TorchServe itself loads it
    "OUTSIDE/copy.mar",
    "../outside/copy.mar",
    "",
])
def test_registration_from_a_url_or_outside_the_store_is_refused(open_registration, url):
    server, outside = open_registration
    url = url.replace("OUTSIDE", str(outside.parent))
    response = register(server, url=url, model_name="intruder", initial_workers=1,
                        synchronous="true")
    assert response.status_code == 403
    assert response.json()["type"] == "RegistrationRefused"
    assert "archive in the model store" in response.json()["message"]
    names = [m["modelName"] for m in requests.get(
        f"{server.management_url}/models", headers=bearer(server.management_key()),
        timeout=HTTP_TIMEOUT).json()["models"]]
    assert "intruder" not in names


def test_registration_cannot_swap_the_handler_code(open_registration):
    server, _ = open_registration
    response = register(server, url=f"{MODEL}_v2.mar", handler="os:system")
    assert response.status_code == 403
    assert "handler" in response.json()["message"]


def test_an_archive_in_the_store_registers_and_unregisters(open_registration, checkpoint_dir):
    server, _ = open_registration
    response = register(server, url=f"{MODEL}_v2.mar", initial_workers=1, synchronous="true")
    assert response.status_code == 200, response.text
    versions = {entry["modelVersion"] for entry in server.describe(f"{MODEL}/all")}
    assert versions == {"1.0", "2.0"}
    body, content_type = sample_body(MODEL)
    served = requests.post(f"{server.inference_url}/predictions/{MODEL}/2.0", data=body,
                           headers={"Content-Type": content_type, **bearer(server.inference_key())},
                           timeout=HTTP_TIMEOUT)
    assert served.status_code == 200
    assert_same_answers([served.json()], expected_answers(checkpoint_dir, MODEL, [body],
                                                          content_type), MODEL)
    removed = requests.delete(f"{server.management_url}/models/{MODEL}/2.0",
                              headers=bearer(server.management_key()), timeout=120)
    assert removed.status_code == 200, removed.text


def test_the_gateway_leaves_token_checks_to_torchserve(open_registration):
    server, _ = open_registration
    for headers in ({}, bearer("wrong")):
        response = requests.get(f"{server.management_url}/models", headers=headers,
                                timeout=HTTP_TIMEOUT)
        assert response.status_code == 400
        assert response.json()["type"] == "InvalidKeyException"
        refused = requests.post(f"{server.management_url}/models", headers=headers,
                                params={"url": f"{MODEL}_v2.mar"}, timeout=HTTP_TIMEOUT)
        assert refused.status_code == 400
    # TorchServe's own management API is only on a private socket now.
    assert server.properties["management_address"] == server.management_url
    behind = (server.workdir / "logs" / "config.behind-gateway.properties").read_text()
    assert "management_address=unix:" in behind


def test_a_checkpoint_carrying_code_is_refused_when_the_worker_loads_it(tmp_path):
    marker = tmp_path / "code-ran"
    torch.save({"format": 1, "family": MODEL, "payload": WritesMarker(marker)},
               tmp_path / "model.pt")
    context = Context(MODEL, str(tmp_path), {"model": {"serializedFile": "model.pt"}}, 1,
                      None, "0.12.0", model_yaml_config={})
    with pytest.raises(pickle.UnpicklingError):
        TorchServeHandler().initialize(context)
    assert not marker.exists()


SECRETS_AND_BUILD_OUTPUT = ["key_file.json", "logs/ts_log.log", f"model_store/{ARCHIVE}",
                            f"checkpoints/{MODEL}/model.pt", ".venv/bin/python",
                            ARCHIVE, "logs/management_gateway.pid"]


def test_no_secret_key_log_or_archive_is_committed_or_committable():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert not [path for path in tracked
                if path.endswith((".mar", ".pt", ".log")) or Path(path).name == "key_file.json"
                or path.startswith(("logs/", "checkpoints/", ".venv/"))]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *SECRETS_AND_BUILD_OUTPUT],
                             cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert sorted(ignored) == sorted(SECRETS_AND_BUILD_OUTPUT)
