"""The kserve adapter (handlers/kserve_server.py) on a real kserve ModelServer: ready, the same
v1 and v2 answers as TorchServe for every family, 400 {"error"} for bad input, loopback only."""

import json
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import requests

from harness.examples import sample_body
from harness.torchserve import HTTP_TIMEOUT, free_ports, stop_process_group
from tests.calls import post
from tests.protocol_bodies import (bad_instance, plain_examples, v1_body, v2_body, wrong_datatype,
                                   wrong_shape)
from tests.under_test import MODELS, first_with_sample

ROOT = Path(__file__).resolve().parent.parent
# kserve needs psutil<6, which the main pins rule out: it has its own environment.
KSERVE_PYTHON = ROOT / ".venv-kserve" / "bin" / "python"
READY_TIMEOUT_S = 180  # as TorchServe gets: loading torch and four models on a busy 2-core machine
IMAGE = first_with_sample("image/")  # a family that reads a picture sent as it is


class KServeServer:
    """handlers.kserve_server running as a subprocess on a free loopback port, logging to a file."""

    def __init__(self, checkpoint_dir, workdir):
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(workdir) / "kserve_server.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(KSERVE_PYTHON), "-m", "handlers.kserve_server", "--model-dir",
                 str(checkpoint_dir), "--http-port", str(self.port)],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def log_tail(self, lines=60) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.log_path} (last {len(text)} lines) ---\n" + "\n".join(text)

    def wait_until_ready(self, models):
        """Poll v2 readiness of the server and of every model; fails with the log when the
        process dies or READY_TIMEOUT_S passes."""
        deadline, problem = time.monotonic() + READY_TIMEOUT_S, "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"kserve server exited with code {self.process.returncode}\n"
                            + self.log_tail())
            try:
                paths = ["/v2/health/ready", *(f"/v2/models/{model}/ready" for model in models)]
                codes = [requests.get(self.url + path, timeout=HTTP_TIMEOUT).status_code
                         for path in paths]
                if set(codes) == {200}:
                    return
                problem = f"readiness answered {codes}"
            except requests.RequestException as error:
                problem = str(error)
            time.sleep(0.5)
        pytest.fail(f"kserve server not ready after {READY_TIMEOUT_S}s ({problem})\n"
                    + self.log_tail())

    def post(self, path, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return requests.post(self.url + path, data=data, headers={"Content-Type": content_type},
                             timeout=HTTP_TIMEOUT)

    def stop(self):
        stop_process_group(self.process, timeout_s=30)


@pytest.fixture(scope="module")
def kserve_server(checkpoint_dir, tmp_path_factory):
    if not KSERVE_PYTHON.exists():
        pytest.skip("no .venv-kserve: run `make kserve-venv` (requirements-kserve.txt)")
    running = KServeServer(checkpoint_dir, tmp_path_factory.mktemp("kserve_server"))
    try:
        running.wait_until_ready(MODELS)
        yield running
    finally:
        running.stop()


def check(response, status, server):
    """A response → its JSON body, after checking its status and content type (log on failure)."""
    assert response.status_code == status, f"{response.text[:300]}\n{server.log_tail(30)}"
    assert response.headers.get("content-type", "").startswith("application/json"), \
        response.headers
    return response.json()


def test_the_server_and_every_model_report_ready(kserve_server):
    assert requests.get(f"{kserve_server.url}/v2/health/ready",
                        timeout=HTTP_TIMEOUT).json() == {"ready": True}
    for model in MODELS:
        answer = requests.get(f"{kserve_server.url}/v1/models/{model}", timeout=HTTP_TIMEOUT)
        assert answer.json() == {"name": model, "ready": True}


@pytest.mark.parametrize("model", MODELS)
def test_v1_and_v2_answers_equal_torchserve_byte_for_byte(kserve_server, server, model):
    plain = [post(server, model, body).json() for body in plain_examples(model)]
    served_v1 = post(server, model, v1_body(model))
    served_v2 = post(server, model, v2_body(model))
    v1 = kserve_server.post(f"/v1/models/{model}:predict", v1_body(model))
    v2 = kserve_server.post(f"/v2/models/{model}/infer", v2_body(model))
    assert check(v1, 200, kserve_server) == {"predictions": plain}
    assert check(v2, 200, kserve_server)["id"] == "req-1"
    assert (served_v1.status_code, served_v2.status_code) == (200, 200)
    assert v1.content == served_v1.content
    assert v2.content == served_v2.content


@pytest.mark.skipif(IMAGE is None, reason="no family under test has a picture as its sample")
def test_a_plain_image_on_the_v1_endpoint_gets_the_plain_answer(kserve_server, server):
    png, content_type = sample_body(IMAGE)
    answer = kserve_server.post(f"/v1/models/{IMAGE}:predict", png, content_type)
    assert check(answer, 200, kserve_server) == post(server, IMAGE, png, content_type).json()


@pytest.mark.parametrize("model", MODELS)
def test_bad_v1_and_v2_bodies_get_torchserves_400_and_error(kserve_server, server, model):
    for path, (body, message) in [(f"/v2/models/{model}/infer", wrong_datatype(model)),
                                  (f"/v2/models/{model}/infer", wrong_shape(model)),
                                  (f"/v1/models/{model}:predict", bad_instance(model))]:
        answer = check(kserve_server.post(path, body), 400, kserve_server)
        assert set(answer) == {"error"} and answer["error"].startswith(message), answer
        assert answer == post(server, model, body).json()
    # Still serving after them.
    check(kserve_server.post(f"/v1/models/{model}:predict", v1_body(model)), 200, kserve_server)


def test_bodies_kserve_refuses_before_the_model_are_400_too(kserve_server):
    model = MODELS[0]
    no_data = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]}
    answer = check(kserve_server.post(f"/v2/models/{model}/infer", no_data), 400, kserve_server)
    assert answer == {"error": "the body is no v2 inference request: inputs.0.data: Field required"}
    for path in (f"/v2/models/{model}/infer", f"/v1/models/{model}:predict"):
        answer = check(kserve_server.post(path, b'{"inputs": ['), 400, kserve_server)
        assert set(answer) == {"error"}, answer


def test_it_listens_on_loopback_only(kserve_server):
    listening = [connection.laddr for process in
                 [psutil.Process(kserve_server.process.pid),
                  *psutil.Process(kserve_server.process.pid).children(recursive=True)]
                 for connection in process.net_connections(kind="inet")
                 if connection.status == psutil.CONN_LISTEN]
    assert listening, "no listening socket found"
    assert {address.ip for address in listening} == {"127.0.0.1"}, listening
    assert {address.port for address in listening} == {kserve_server.port}  # no gRPC port


def pins(path) -> dict:
    """requirements file → {package: version} of its name==version lines."""
    found = {}
    for line in Path(path).read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("#")[0].strip().split("==")
            found[name.lower()] = version
    return found


def test_the_kserve_environment_keeps_the_main_pins_but_psutil():
    main, kserve = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-kserve.txt")
    differing = {name for name in kserve if name in main and kserve[name] != main[name]}
    assert differing == {"psutil"}, differing
    assert {"torch", "numpy", "pillow", "captum", "kserve"} <= set(kserve)
