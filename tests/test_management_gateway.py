"""The management gateway on a real TorchServe with the model API on: no bypass registers foreign code, the documented calls work.

An unpacked model folder outside the store (and one inside it, named like
an archive) carries a handler that writes a marker file when TorchServe
imports it. Every attempt below goes byte for byte over a socket, as an
attacker holding the management key would send it; after each test the
marker must be absent and GET /models must list only what the test
registered from the store itself.
"""

import http.client
import itertools
import json
import shutil
import socket
import time
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.archives import build_store
from harness.examples import calls_for, subject
from harness.load import Load
from harness.torchserve import CLOSED_ADDRESS, HTTP_TIMEOUT, start_private
from reliability.management_under_load import poll_both
from tools.management_gateway import MAX_CONNECTIONS, REQUEST_TIMEOUT_S

ROOT = Path(__file__).resolve().parent.parent
MODEL = subject("gateway")
ARCHIVE = f"{MODEL}.mar"  # in the store; requests below write it STORED, the folder outside FOREIGN
PROPERTY = settings(max_examples=60, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def foreign_model(folder, marker):
    """An unpacked model folder whose handler writes `marker` as soon as TorchServe imports it."""
    (folder / "MAR-INF").mkdir(parents=True)
    (folder / "MAR-INF" / "MANIFEST.json").write_text(json.dumps({
        "runtime": "python", "archiverVersion": "0.12.0",
        "model": {"modelName": "foreign", "handler": "marker_handler.py", "modelVersion": "1.0"}}))
    (folder / "marker_handler.py").write_text(
        f"open({str(marker)!r}, 'a').write('foreign code ran\\n')\n\n"
        "def handle(data, context):\n    return data\n")
    return folder


@pytest.fixture(scope="module")
def gated(model_store, checkpoint_dir, tmp_path_factory):
    """A TorchServe with the model API on behind the gateway; a v2 archive in its store; foreign folders."""
    workdir = tmp_path_factory.mktemp("gateway")
    store = workdir / "store"
    store.mkdir()
    shutil.copy(model_store / ARCHIVE, store)
    marker = workdir / "foreign-code-ran"
    foreign = foreign_model(workdir / "outside" / "foreign", marker)
    server = start_private(workdir, store, enable_model_api="true")
    # Added after the start, which loads everything in the store: a folder that
    # TorchServe would load by this name, and a second version of the model.
    foreign_model(store / "inside.mar", marker)
    build_store(workdir, [MODEL], checkpoint_dir, version="2.0")
    (workdir / ARCHIVE).rename(store / f"{MODEL}_v2.mar")
    yield server, foreign, marker
    server.stop()


def registered(server):
    """GET /models through the gateway → {model: [versions]}."""
    status, models = call(server, "GET", "/models")
    assert status == 200, models
    return {m["modelName"]: sorted(v["modelVersion"] for v in call(
        server, "GET", f"/models/{m['modelName']}/all")[1]) for m in models["models"]}


@pytest.fixture
def server(gated):
    """The gated server; after the test, no foreign code ran and only the model's 1.0 is registered."""
    torchserve, _, marker = gated
    yield torchserve
    ran = marker.read_text() if marker.exists() else ""
    marker.unlink(missing_ok=True)
    found = registered(torchserve)
    restore(torchserve, found)  # so that one failure does not fail every later test
    assert not ran, ran
    assert found == {MODEL: ["1.0"]}


def restore(server, found):
    """Unregister everything but the model's 1.0, which becomes the default again."""
    call(server, "PUT", f"/models/{MODEL}/1.0/set-default")
    for name, versions in found.items():
        for version in versions:
            if (name, version) != (MODEL, "1.0"):
                call(server, "DELETE", f"/models/{name}/{version}")


def gateway_address(server):
    host, port = server.management_url.split("://")[1].rsplit(":", 1)
    return host, int(port)


def send(server, raw: bytes, timeout=120):
    """Raw bytes to the gateway → (status, decoded JSON or text), read as http.client reads a reply."""
    with socket.create_connection(gateway_address(server), timeout=timeout) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
    try:
        return response.status, json.loads(body)
    except ValueError:
        return response.status, body.decode(errors="replace")


def request_bytes(server, method, target, headers=(), body=b"", key=True) -> bytes:
    """One HTTP/1.1 request, exactly as given, with the management key unless key=False."""
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost", "Connection: close"]
    if key:
        lines.append(f"Authorization: Bearer {server.management_key()}")
    lines += [f"{name}: {value}" for name, value in headers]
    if body and not any(name.lower() in ("content-length", "transfer-encoding")
                        for name, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def call(server, method, target, headers=(), body=b""):
    return send(server, request_bytes(server, method, target, headers, body))


def assert_refused(status, answer):
    assert 400 <= status < 500, (status, answer)
    assert isinstance(answer, dict) and answer.get("type"), answer


# The three bypasses.

def test_a_json_body_cannot_carry_another_url_than_the_query(server, gated):
    _, foreign, _ = gated
    body = json.dumps({"url": str(foreign), "model_name": "x", "initial_workers": 1,
                       "synchronous": True}).encode()
    status, answer = call(server, "POST", f"/models?url={ARCHIVE}",
                          [("Content-Type", "application/json")], body)
    assert status == 400 and "both the query and the JSON body" in answer["message"]
    status, answer = call(server, "POST", "/models", [("Content-Type", "application/json")], body)
    assert status == 403 and answer["type"] == "RegistrationRefused"


def test_a_percent_encoded_path_is_read_as_torchserve_reads_it(server, gated):
    _, foreign, _ = gated
    status, answer = call(server, "POST", f"/%6Dodels?url={foreign}&model_name=y"
                          "&initial_workers=1&synchronous=true")
    assert status == 403 and answer["type"] == "RegistrationRefused"
    assert "archive in the model store" in answer["message"]


def grpc_management_listeners(server):
    """The frontend's listening sockets on the gRPC management port."""
    port = int(server.properties["grpc_management_port"])
    return [c.laddr for c in server.frontend().net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port]


def test_grpc_management_cannot_be_reached(server):
    port = int(server.properties["grpc_management_port"])
    listeners = grpc_management_listeners(server)
    assert [address.ip for address in listeners] == [f"::ffff:{CLOSED_ADDRESS}"], listeners
    for family, host in [(socket.AF_INET, CLOSED_ADDRESS), (socket.AF_INET, "127.0.0.1"),
                         (socket.AF_INET6, f"::ffff:{CLOSED_ADDRESS}"), (socket.AF_INET6, "::1")]:
        with socket.socket(family) as sock, pytest.raises(OSError):
            sock.settimeout(5)
            sock.connect((host, port))
    behind = (server.workdir / "logs" / "config.behind-gateway.properties").read_text()
    assert f"grpc_management_address={CLOSED_ADDRESS}" in behind


# Their neighbours: every way the path, query, body, method or framing could be read two ways.

@pytest.mark.parametrize("method, target, headers, body", [
    ("POST", "/models/?url=FOREIGN", [], b""),
    ("POST", "/models%2F?url=FOREIGN", [], b""),
    ("POST", "/models//?url=FOREIGN", [], b""),
    ("POST", "//models?url=FOREIGN", [], b""),
    ("POST", "/./models?url=FOREIGN", [], b""),
    ("POST", "/x/../models?url=FOREIGN", [], b""),
    ("POST", "/MODELS?url=FOREIGN", [], b""),
    ("POST", "/models;a=b?url=FOREIGN", [], b""),
    ("POST", "/mod%65ls?url=%2Fetc%2Fpasswd", [], b""),
    ("POST", "/models?url=STORED&url=FOREIGN", [], b""),
    ("POST", "/models?model_name=z;url=FOREIGN&url=STORED", [], b""),
    ("POST", "/models?=url=FOREIGN&url=STORED", [], b""),
    ("POST", "/models?url=STORED#&url=FOREIGN", [], b""),
    ("POST", "/models?%75rl=FOREIGN", [], b""),
    ("POST", "/models?URL=FOREIGN", [], b""),
    ("POST", "/models?url=inside.mar&initial_workers=1&synchronous=true", [], b""),
    ("POST", "/models?url=..%2Foutside%2Fforeign", [], b""),
    ("POST", "/models?url=STORED&handler=FOREIGN%2Fmarker_handler.py", [], b""),
    ("POST", "/models?url=STORED&runtime=python3", [], b""),
    ("POST", "/models?url=FOREIGN", [("Content-Type", "application/json")], b""),
    ("POST", "/models", [("Content-Type", "application/json; charset=utf-8")],
     b'{"url": "FOREIGN", "initial_workers": 1, "synchronous": true}'),
    ("POST", "/models", [("Content-Type", "APPLICATION/JSON")],
     b'{"url": "STORED", "url": "FOREIGN", "initial_workers": 1}'),
    ("POST", "/models", [("Content-Type", "application/json")], b"{url: 'FOREIGN'}"),
    ("POST", "/models", [("Content-Type", "application/json")], b'[{"url": "FOREIGN"}]'),
    ("POST", "/models", [("Content-Type", "application/json")],
     b'{"url": "STORED", "handler": "FOREIGN/marker_handler.py"}'),
    ("POST", "/models", [("Content-Type", "text/plain")], b'{"url": "FOREIGN"}'),
    ("POST", "/models", [], b'{"url": "FOREIGN"}'),
    ("POST", "/models?url=STORED",
     [("Content-Type", "text/plain"), ("Content-Type", "application/json")], b'{"url": "FOREIGN"}'),
    ("POST", "/models?url=STORED", [("Transfer-Encoding", "chunked"),
                                            ("Content-Type", "application/json")], b"CHUNKED"),
    ("POST", "/models?url=STORED", [("Content-Length", "5"), ("Content-Length", "40")],
     b'{"url": "FOREIGN"}'),
    ("POST", "/models?url=STORED", [("Content-Length", "+18")], b'{"url": "FOREIGN"}'),
    ("post", "/models?url=FOREIGN", [], b""),
    ("PATCH", "/models?url=FOREIGN", [], b""),
    ("POST", "/workflows?url=FOREIGN&workflow_name=w", [], b""),
    ("OPTIONS", "/", [], b""),
    ("GET", "/api-description", [], b""),
    ("GET", "/models/token", [], b""),
    ("POST", "http://127.0.0.1/models?url=FOREIGN", [], b""),
    ("GET", "/models", [("Content-Type", "application/json")], b'{"url": "FOREIGN"}'),
])
def test_neighbours_of_the_bypasses_are_refused(server, gated, method, target, headers, body):
    _, foreign, _ = gated
    target = target.replace("FOREIGN", str(foreign)).replace("STORED", ARCHIVE)
    body = body.replace(b"FOREIGN", str(foreign).encode()).replace(b"STORED", ARCHIVE.encode())
    if body == b"CHUNKED":
        chunk = json.dumps({"url": str(foreign)}).encode()
        body = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n"
    status, answer = call(server, method, target, headers, body)
    assert_refused(status, answer)


def test_a_body_over_the_limit_is_refused_before_it_is_read(server):
    status, answer = send(server, request_bytes(server, "POST", "/models", [
        ("Content-Type", "application/json"), ("Content-Length", str(10**8))]))
    assert status == 413 and answer["type"] == "PayloadTooLarge"


# Property-based: random near misses of a foreign registration, sent to the real gateway.

def escape_some(text, choices):
    return "".join(f"%{ord(c):02X}" if pick else c for c, pick in zip(text, choices))


@st.composite
def foreign_registrations(draw):
    """A request meant to register the foreign folder: any method, escapes, slashes, separators,
    content types, bodies and duplicated headers."""
    word = draw(st.sampled_from(["models", "models/", "models//", "Models", "models;x", "./models",
                                 "models/%2E", "models%2F", "models/.", "workflows"]))
    path = "/" + escape_some(word, draw(st.lists(st.booleans(), min_size=len(word),
                                                  max_size=len(word))))
    pieces = draw(st.lists(st.sampled_from([
        "url=FOREIGN", "url=STORED", "%75rl=FOREIGN", "url=inside.mar", "handler=h.py",
        "model_name=m", "initial_workers=1", "synchronous=true", "url=%2Fetc", "=url=FOREIGN"]),
        min_size=1, max_size=4))
    separators = draw(st.lists(st.sampled_from(["&", ";", "&&"]), min_size=len(pieces),
                               max_size=len(pieces)))
    query = "".join(sep + piece for sep, piece in zip(separators, pieces))[1:]
    method = draw(st.sampled_from(["POST", "POST", "PUT", "GET", "post", "DELETE"]))
    content_type = draw(st.sampled_from([None, "application/json", "Application/Json",
                                         "application/json; charset=utf-8", "text/plain",
                                         "application/json;x"]))
    headers = [("Content-Type", content_type)] if content_type else []
    body = b""
    if draw(st.booleans()):
        fields = draw(st.dictionaries(st.sampled_from(["url", "handler", "model_name",
                                                       "initial_workers", "synchronous"]),
                                      st.sampled_from(["FOREIGN", "STORED", "inside.mar",
                                                       1, True]), min_size=1, max_size=3))
        body = json.dumps(fields).encode()
    if draw(st.booleans()):
        headers.append(("X-Original-URL", "/models?url=FOREIGN"))
    return method, path + "?" + query, headers, body


@PROPERTY
@given(foreign_registrations())
def test_no_near_miss_registers_a_foreign_folder(gated, request):
    torchserve, foreign, marker = gated
    method, target, headers, body = request
    target = target.replace("FOREIGN", str(foreign)).replace("STORED", ARCHIVE)
    body = body.replace(b"FOREIGN", str(foreign).encode()).replace(b"STORED", ARCHIVE.encode())
    status, answer = call(torchserve, method, target, headers, body)
    assert status < 500, (status, answer)
    # Some near misses are plain registrations from the store (the archive as model "m"):
    # they may pass, and are removed again.
    for name in set(registered(torchserve)) - {MODEL}:
        urls = {version["modelUrl"] for version in call(torchserve, "GET", f"/models/{name}/all")[1]}
        assert urls == {ARCHIVE}, (name, urls, request)
        assert call(torchserve, "DELETE", f"/models/{name}")[0] == 200
    assert not marker.exists(), request


def test_after_every_attempt_nothing_foreign_is_registered_and_no_foreign_code_ran(server, gated):
    _, _, marker = gated
    assert not marker.exists()
    assert registered(server) == {MODEL: ["1.0"]}


# The documented flows still work through the gateway.

def test_register_scale_set_default_and_unregister_an_archive_from_the_store(server):
    status, answer = call(server, "POST", f"/models?url={MODEL}_v2.mar&initial_workers=1"
                          "&synchronous=true")
    assert status == 200, answer
    assert registered(server) == {MODEL: ["1.0", "2.0"]}
    status, answer = call(server, "PUT", f"/models/{MODEL}/2.0?min_worker=2&max_worker=2"
                          "&synchronous=true")
    assert status == 200, answer
    assert server.ready_workers(f"{MODEL}/2.0") == 2
    assert call(server, "PUT", f"/models/{MODEL}/2.0/set-default")[0] == 200
    assert server.describe(MODEL)[0]["modelVersion"] == "2.0"
    assert call(server, "PUT", f"/models/{MODEL}/1.0/set-default")[0] == 200
    status, answer = call(server, "DELETE", f"/models/{MODEL}/2.0")
    assert status == 200, answer


def test_a_registration_in_a_json_body_alone_works(server):
    status, answer = call(server, "POST", "/models", [("Content-Type", "application/json")],
                          json.dumps({"url": f"{MODEL}_v2.mar", "initial_workers": 1,
                                      "synchronous": True}).encode())
    assert status == 200, answer
    assert registered(server) == {MODEL: ["1.0", "2.0"]}
    assert call(server, "DELETE", f"/models/{MODEL}/2.0")[0] == 200


def test_listing_describing_and_the_token_api_pass(server):
    status, page = call(server, "GET", "/models?limit=1")
    assert status == 200 and [m["modelName"] for m in page["models"]] == [MODEL]
    assert call(server, "GET", f"/models/{MODEL}/1.0/")[0] == 200
    api_key = [("Authorization", f"Bearer {server.keys.key('API')}")]
    renewed = send(server, request_bytes(server, "GET", "/token?type=inference", api_key,
                                         key=False))
    assert renewed[0] == 200, renewed


# Slow or many clients cannot take the gateway away from a management client.

def test_a_slow_sender_is_cut_off_and_others_are_served_meanwhile(server):
    with socket.create_connection(gateway_address(server), timeout=30) as slow:
        slow.sendall(b"GET /models HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        slow.settimeout(1)
        while time.monotonic() - started < REQUEST_TIMEOUT_S + 10:
            try:
                if slow.recv(4096) == b"":
                    break  # the gateway closed the connection
            except TimeoutError:
                pass
            except OSError:
                break
            assert registered(server) == {MODEL: ["1.0"]}  # others still served
            try:
                slow.sendall(b"X-Slow: 1\r\n")  # one header line a second, never the end
            except OSError:
                break
        held = time.monotonic() - started
    assert REQUEST_TIMEOUT_S - 1 < held < REQUEST_TIMEOUT_S + 5, held


def test_connections_beyond_the_limit_get_a_503_at_once_and_the_gateway_recovers(server):
    idle = [socket.create_connection(gateway_address(server), timeout=10)
            for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(1)  # let the gateway accept them all
        status, answer = send(server, request_bytes(server, "GET", "/models"), timeout=10)
        assert status == 503 and answer["type"] == "ServiceUnavailable"
    finally:
        for sock in idle:
            sock.close()
    time.sleep(1)
    assert call(server, "GET", "/models")[0] == 200


def test_every_call_answers_within_the_http_timeout(server):
    started = time.monotonic()
    assert call(server, "GET", "/models")[0] == 200
    assert time.monotonic() - started < HTTP_TIMEOUT


def test_a_management_client_polling_under_inference_load_is_always_answered(server,
                                                                             checkpoint_dir):
    # reliability.management_under_load, scaled down: the gateway and the socket past it, side by side.
    good, _ = calls_for(MODEL, checkpoint_dir, size=20)
    load = Load(server, itertools.cycle(good), concurrency=16, seconds=3)
    polls = poll_both(server, 3, load)
    assert load.outcomes and all(o.ok for o in load.outcomes)
    for name, poller in polls.items():
        assert len(poller.latencies) >= 10 and not poller.errors, (name, poller.errors[:3])
        assert max(poller.latencies) < HTTP_TIMEOUT, name
