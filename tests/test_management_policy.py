"""The gateway's decision, without a server: what TorchServe would do with the rebuilt request is what was checked.

Each property reads requests the way TorchServe's frontend does
(tests/netty_reading.py, a port of Netty's and TorchServe's own code) and
holds for every request hypothesis makes up: paths with random escapes,
slashes, dots, `;` and case; queries with repeated, encoded and split
parameters; methods, content types and JSON bodies.
"""

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.examples import subject
from tests.netty_reading import reading
from tools.management_policy import Refusal, decide

FOREIGN = "/tmp/foreign/model"
MODEL = subject("gateway")
ARCHIVE = f"{MODEL}.mar"
PROPERTY = settings(max_examples=1500, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("store")
    (folder / ARCHIVE).write_bytes(b"archive")
    (folder / "folder.mar").mkdir()  # a folder TorchServe itself would load
    return folder


def escaped(text, draw):
    """Text with some characters percent-encoded (upper or lower hex) and some left alone."""
    out = []
    for char in text:
        choice = draw(st.integers(0, 7))  # mostly left alone
        code = "".join(f"%{byte:02X}" for byte in char.encode())
        if char == " ":  # a request target cannot hold a space
            choice = 1
        out.append(code if choice == 1 else code.lower() if choice == 2 else char)
    return "".join(out)


@st.composite
def paths(draw):
    """Near misses of /models: escapes, case, repeated and trailing slashes, dot segments, ';'."""
    word = draw(st.sampled_from(["models"] * 8 + ["Models", "MODELS", "models;x=1", "workflows", "token",
                                 "api-description", ".", "..", "v1", ""]))
    head = draw(st.sampled_from(["/"] * 8 + ["//", "/./", "/x/../", "/%2F", "/models/../"]))
    tail = draw(st.sampled_from([""] * 8 + ["/", "//", "/%2F", f"/{MODEL}", f"/{MODEL}/1.0",
                                 f"/{MODEL}/1.0/set-default", "/token", "/.."]))
    return "/" + escaped(head[1:] + word, draw) + escaped(tail, draw)


VALUES = st.sampled_from([ARCHIVE] * 4 + [FOREIGN, "folder.mar", f"../{ARCHIVE}",
                          "file:///etc/passwd", "", "os:system", "true", "1", "x"])
NAMES = st.sampled_from(["url"] * 4 + ["URL", "model_name", "handler", "runtime", "initial_workers",
                         "synchronous", "s3_sse_kms", "type", "min_worker", "", "url "])


@st.composite
def queries(draw):
    pieces = []
    for index in range(draw(st.integers(0, 3))):
        name, value = (draw(NAMES), draw(VALUES)) if index or draw(st.booleans()) else \
            ("url", draw(st.sampled_from([ARCHIVE, FOREIGN])))
        pieces.append(draw(st.sampled_from(["{n}={v}"] * 8 + ["{n}", "={n}={v}", "{n}=={v}"]))
                      .format(n=escaped(name, draw), v=escaped(value, draw)))
    separators = [draw(st.sampled_from(["&"] * 8 + [";", "&&", "#"])) for _ in pieces]
    query = "".join(sep + piece for sep, piece in zip(separators, pieces))[1:]
    return ("?" + query) if query or draw(st.booleans()) else ""


@st.composite
def requests_(draw):
    method = draw(st.sampled_from(["POST"] * 4 + ["GET", "PUT", "DELETE", "OPTIONS", "post", "PATCH"]))
    target = draw(paths()) + draw(queries())
    headers = []
    content_type = draw(st.sampled_from([None] * 8 + ["application/json", "APPLICATION/JSON",
                                         "application/json; charset=utf-8", "application/json ;x",
                                         "text/plain", "application/x-www-form-urlencoded"]))
    if content_type:
        headers.append(("Content-Type", content_type))
    if draw(st.integers(0, 9)) == 0:
        headers.append(("Content-Type", "application/json"))
    headers.append(("Authorization", draw(st.sampled_from(["Bearer key"] * 9
                                                          + ["Bearer key/token"]))))
    body = b""
    if draw(st.integers(0, 3)) == 0:
        fields = draw(st.dictionaries(NAMES, VALUES | st.integers(-1, 3) | st.booleans(),
                                      max_size=4))
        body = json.dumps(fields).encode()
        if draw(st.booleans()):  # a key given twice, which Gson reads as the last one
            body = body[:-1] + (b", " if fields else b"") + b'"url": "' + FOREIGN.encode() + b'"}'
    return method, target, headers, body


DOCUMENTED_CALLS = [("POST", "/models", ["url", "model_name", "initial_workers", "synchronous"]),
                    ("GET", "/models", ["limit", "next_page_token"]),
                    ("PUT", f"/models/{MODEL}/1.0", ["min_worker", "max_worker", "synchronous"]),
                    ("PUT", f"/models/{MODEL}/1.0/set-default", []),
                    ("DELETE", f"/models/{MODEL}/2.0", []), ("GET", "/token", ["type"])]


VALID = {"url": ARCHIVE, "model_name": "x", "initial_workers": "1", "synchronous": "true",
         "limit": "1", "next_page_token": "1", "min_worker": "1", "max_worker": "1",
         "type": "inference"}


@st.composite
def near_legit(draw):
    """Documented calls, escaped at random, with parameters in the query or a JSON body."""
    method, path, names = draw(st.sampled_from(DOCUMENTED_CALLS))
    values = st.sampled_from([ARCHIVE, FOREIGN, "folder.mar", "1", "true", "x",
                              "inference", f"{ARCHIVE}/../x", "+1", "1+1"])
    chosen = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    fields = {name: VALID[name] if draw(st.integers(0, 3)) else draw(values) for name in chosen}
    target = "/" + escaped(path[1:] + draw(st.sampled_from(["", "/", "//"])), draw)
    if method == "POST" and draw(st.booleans()):
        return method, target, [("Content-Type", "application/json")], json.dumps(fields).encode()
    query = "&".join(f"{escaped(k, draw)}={escaped(v, draw)}" for k, v in fields.items())
    return method, target + ("?" + query if query else ""), [("Authorization", "Bearer key")], b""


def torchserve_acts_on(upstream):
    """The request the gateway sends → what TorchServe would do with it."""
    return reading(upstream.method, upstream.target, upstream.headers, b"")


@pytest.mark.slow
@PROPERTY
@given(st.one_of(requests_(), near_legit()))
def test_a_rebuilt_request_registers_only_an_archive_in_the_store(store, request):
    method, target, headers, body = request
    try:
        upstream = decide(method, target, headers, body, store)
    except Refusal as refusal:
        assert 400 <= refusal.status < 500 and refusal.message
        return
    call, detail = torchserve_acts_on(upstream)
    if call == "register":
        assert set(detail) <= {"url", "model_name", "initial_workers", "synchronous",
                               "batch_size", "max_batch_delay", "response_timeout",
                               "startup_timeout"}, detail
        assert (store / detail["url"]).is_file() and "/" not in detail["url"], detail
    else:
        assert call in ("list", "describe", "scale", "unregister", "token"), (call, upstream)
    assert upstream.headers in ((), (("Authorization", "Bearer key"),)), upstream
    ACCEPTED[call] = ACCEPTED.get(call, 0) + 1


ACCEPTED = {}  # calls the property above saw rebuilt, checked below


@pytest.mark.slow  # reads what the (slow) property above saw, so runs in its tier
def test_the_property_saw_every_documented_call_rebuilt():
    assert set(ACCEPTED) >= {"register", "list", "scale", "unregister", "token"}, ACCEPTED


@pytest.mark.slow
@PROPERTY
@given(requests_())
def test_what_torchserve_would_register_from_the_original_is_refused_unless_it_is_from_the_store(
        store, request):
    method, target, headers, body = request
    call, detail = reading(method, target, headers, body)
    if call != "register":
        return
    url = detail.get("url")
    foreign = not (isinstance(url, str) and (store / url).is_file()) or \
        {"handler", "runtime"} & set(detail)
    if foreign:
        with pytest.raises(Refusal):
            decide(method, target, headers, body, store)


@PROPERTY
@given(st.text(alphabet=string.printable, max_size=40), st.sampled_from(["GET", "POST", "PUT"]))
def test_any_text_as_a_target_is_refused_or_rebuilt_plainly(store, text, method):
    try:
        upstream = decide(method, "/" + text, [], b"", store)
    except Refusal as refusal:
        assert refusal.status in (400, 403, 404, 405)
        return
    assert all(c.isalnum() or c in "/?&=._-%" for c in upstream.target), upstream.target


@pytest.mark.parametrize("method, target, headers, body", [
    # The three bypasses of the issue, read as TorchServe reads them.
    ("POST", f"/models?url={ARCHIVE}", [("Content-Type", "application/json")],
     json.dumps({"url": FOREIGN}).encode()),
    ("POST", f"/%6Dodels?url={FOREIGN}", [], b""),
    # A ';' splits parameters for Netty only, hiding a first url from other parsers.
    ("POST", f"/models?model_name=z;url={FOREIGN}&url={ARCHIVE}", [], b""),
    ("POST", f"/models%2F?url={FOREIGN}", [], b""),
    ("POST", f"/models/?url={FOREIGN}", [], b""),
    ("POST", f"/models?=url={FOREIGN}&url={ARCHIVE}", [], b""),
    ("POST", "/models?url=folder.mar", [], b""),
    ("POST", "/models", [("Content-Type", "application/json")],
     b'{"url": "' + ARCHIVE.encode() + b'", "url": "' + FOREIGN.encode() + b'"}'),
    ("POST", "/models", [("Content-Type", "Application/JSON")],
     json.dumps({"url": ARCHIVE, "handler": "os:system"}).encode()),
])
def test_each_known_bypass_is_one_torchserve_would_act_on_and_is_refused(store, method, target,
                                                                          headers, body):
    call, detail = reading(method, target, headers, body)
    assert call == "register" and (detail.get("url") != ARCHIVE or "handler" in detail)
    with pytest.raises(Refusal) as refused:
        decide(method, target, headers, body, store)
    assert 400 <= refused.value.status < 500


@pytest.mark.parametrize("method, target, headers, body, upstream_target", [
    ("GET", "/models", [], b"", "/models"),
    ("GET", "/models/?limit=10&next_page_token=2", [], b"", "/models?limit=10&next_page_token=2"),
    ("GET", f"/models/{MODEL}/all", [], b"", f"/models/{MODEL}/all"),
    ("PUT", f"/models/{MODEL}?min_worker=2&max_worker=2&synchronous=TRUE", [], b"",
     f"/models/{MODEL}?min_worker=2&max_worker=2&synchronous=true"),
    ("PUT", f"/models/{MODEL}/2.0/set-default", [], b"", f"/models/{MODEL}/2.0/set-default"),
    ("DELETE", f"/models/{MODEL}/2.0", [], b"", f"/models/{MODEL}/2.0"),
    ("POST", f"/models?url={ARCHIVE}&initial_workers=1&synchronous=false", [], b"",
     f"/models?url={ARCHIVE}&initial_workers=1&synchronous=false"),
    ("POST", "/models", [("Content-Type", "application/json")],
     json.dumps({"url": ARCHIVE, "initial_workers": 1, "synchronous": True}).encode(),
     f"/models?url={ARCHIVE}&initial_workers=1&synchronous=true"),
    ("GET", "/token?type=inference", [], b"", "/token?type=inference"),
])
def test_documented_calls_are_rebuilt_as_plain_requests(store, method, target, headers, body,
                                                        upstream_target):
    upstream = decide(method, target, [*headers, ("Authorization", "Bearer k")], body, store)
    assert (upstream.method, upstream.target) == (method, upstream_target)
    assert upstream.headers == (("Authorization", "Bearer k"),)
