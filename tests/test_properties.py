"""Property-based tests: whatever a client sends, every family answers 200 in its documented shape
or 400 naming the problem, in-process and through the TorchServe adapter, and a bad request never
changes the answer of a good one in its batch.

Bodies reach the adapter the way TorchServe 0.12 hands them over: each is framed and decoded by the
worker's own `_retrieve_input_data` (JSON parsed for application/json, text decoded for text/*,
bytes otherwise), and form posts arrive as their fields.
"""

import functools
import io
import json
import logging
import math
import struct
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ts.protocol.otf_message_handler import _retrieve_input_data

from handlers import handler_class
from handlers.messages import Request
from harness.examples import hook, sample_body
from tests.in_process import InProcessHandler
from tests.under_test import MODELS

# Modest budgets with a fixed seed: the whole file runs in well under a minute, the same way in CI.
PROPERTY = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BATCH_PROPERTY = settings(PROPERTY, max_examples=100)

CONTENT_TYPES = [None, "", "image/png", "image/jpeg", "text/plain", "text/plain; charset=utf-8",
                 "application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
                 "application/vnd.api+json", "application/octet-stream",
                 "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"]
FORM_TYPES = ("multipart/form-data; boundary=x", "application/x-www-form-urlencoded")
FIELD_TYPES = ["", "text/plain", "application/json", "application/octet-stream", "image/png"]


# Strategies: any JSON value, and near misses of a family's request.

def numbers():
    """Any JSON number Python's json reads, NaN, infinities and integers beyond int64 included."""
    return st.one_of(st.integers(), st.integers(-10**400, 10**400), st.floats(),
                     st.sampled_from([0, -1, -0.0, 2**53, 2**63 - 1, 2**63, -2**63 - 1, 1e6,
                                      1e6 + 1, math.nan, math.inf, -math.inf, 1e308]))


def json_scalars():
    return st.one_of(st.none(), st.booleans(), numbers(), st.text(max_size=30))


def json_values():
    """Any JSON value: nested arrays and objects of scalars, unicode keys and strings."""
    return st.recursive(json_scalars(),
                        lambda children: st.one_of(
                            st.lists(children, max_size=4),
                            st.dictionaries(st.text(max_size=10), children, max_size=4)),
                        max_leaves=12)


def near_misses(sample: dict, values):
    """A valid request object → the same with one or two values replaced, one field dropped or
    one added."""
    names = sorted(sample)
    replaced = st.dictionaries(st.sampled_from(names), values, min_size=1, max_size=2).map(
        lambda changes: {**sample, **changes})
    dropped = st.sampled_from(names).map(
        lambda gone: {name: value for name, value in sample.items() if name != gone})
    added = st.dictionaries(st.text(max_size=8), json_scalars(), min_size=1, max_size=1).map(
        lambda extra: {**sample, **extra})
    return st.one_of(replaced, dropped, added)


def odd_values():
    """Values at the edges of what a field accepts: non-finite, past a limit, the wrong type."""
    return st.sampled_from([math.nan, math.inf, -math.inf, 1e6, 1e6 + 1, -1e6 - 1, 10**400, -0.0,
                            0, 16, 17, 2**63, -1, 7.0, True, False, None, "7", "", [], {}])


# What each family's property_payloads (families/<family>.py) builds its strategies with.
STRATEGIES = SimpleNamespace(st=st, near_misses=near_misses, odd_values=odd_values,
                             numbers=numbers, json_scalars=json_scalars)


def deep_nesting():
    """Arrays nested up to 20,000 deep as JSON text (beyond what json.loads can parse), or up to
    500 deep as a value the server already parsed."""
    text = st.integers(1, 20_000).map(lambda depth: "[" * depth + "]" * depth)
    value = st.integers(1, 500).map(lambda depth: functools.reduce(lambda inner, _: [inner],
                                                                    range(depth), {}))
    return st.one_of(text, value)


def encodings(value):
    """A value → itself (as the server parsed it, or raw bytes or text), its JSON text or bytes."""
    if isinstance(value, bytes):
        return st.just(value)
    text = json.dumps(value)
    return st.sampled_from([value, text, text.encode()])


@functools.cache
def body_strategy(family):
    """Any request body as a client sends it: bytes, text, JSON text, or a value the server parsed;
    half of them close to what the family reads."""
    junk = st.one_of(st.binary(max_size=200), st.text(max_size=200), deep_nesting())
    close = hook(family, "property_payloads")(STRATEGIES).flatmap(encodings)
    return st.one_of(junk, json_values().flatmap(encodings), close, close)


def check_answer(family, handler, status, body):
    """A 200 in the family's documented shape, or a 400 InvalidInput with a message; strict JSON."""
    json.dumps(body, allow_nan=False)  # NaN or Infinity in an answer would be invalid JSON
    if status == 200:
        hook(family, "check_answer")(body, handler)  # the family's documented shape
    else:
        assert status == 400, (status, body)
        assert set(body) == {"code", "type", "message"}
        assert body["code"] == 400 and body["type"] == "InvalidInput"
        assert isinstance(body["message"], str) and body["message"].strip()


# What TorchServe's frontend and worker make of a request.

def worker_value(body: bytes, mime: str):
    """A field's bytes and content type → the value TorchServe's worker hands the handler."""
    name, mime = b"body", mime.encode()
    frame = b"".join([struct.pack("!i", len(name)), name, struct.pack("!i", len(mime)), mime,
                      struct.pack("!i", len(body)), body])
    # The worker logs every body it cannot decode with a traceback: noise here, and slow.
    logging.disable(logging.WARNING)
    try:
        return _retrieve_input_data(FakeSocket(frame))["value"]
    finally:
        logging.disable(logging.NOTSET)


class FakeSocket:
    """Just enough of a socket for the worker's frame reader."""

    def __init__(self, data: bytes):
        self.data = io.BytesIO(data)

    def recv(self, size):
        return self.data.read(size)


def raw_bytes(body) -> bytes:
    """A body strategy's example → the bytes a client would send."""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    return (body if isinstance(body, str) else json.dumps(body)).encode("utf-8", "surrogatepass")


@functools.cache
def row_strategy(family):
    """(row, field content types, request Content-Type) as the adapter receives one HTTP request."""
    raw_types = [t for t in CONTENT_TYPES if t not in FORM_TYPES]
    raw = st.tuples(body_strategy(family).map(raw_bytes), st.sampled_from(raw_types))

    def plain(parts):
        body, content_type = parts
        mime = (content_type or "").split(";")[0].strip()  # the frontend drops parameters
        return {"body": worker_value(body, mime)}, {"body": mime}, content_type

    field = st.tuples(body_strategy(family).map(raw_bytes), st.sampled_from(FIELD_TYPES))
    names = st.one_of(st.sampled_from(["data", "body", "file", "review"]), st.text(max_size=8))

    def form(parts):
        fields, content_type = parts
        row = {name: worker_value(body, mime) for name, (body, mime) in fields.items()}
        return row, {name: mime for name, (_, mime) in fields.items()}, content_type

    fields = st.one_of(st.dictionaries(names, field, min_size=1, max_size=3), st.just({}))
    forms = st.tuples(fields, st.sampled_from(FORM_TYPES)).map(form)
    # One request in four is a form post.
    return st.integers(0, 3).flatmap(lambda kind: forms if kind == 0 else raw.map(plain))


def run_adapter(served, requests):
    """[(row, field content types, request Content-Type)] → [(status, decoded body)] from the
    adapter, with the headers TorchServe would record."""
    rows = [dict(row) for row, _, _ in requests]
    context = served.context(rows)
    for index, (_, field_types, content_type) in enumerate(requests):
        headers = context.request_processor[index].get_request_properties()
        headers.update({name: {"content-type": mime} for name, mime in field_types.items()})
        if content_type is not None:
            headers["Content-Type"] = content_type
    bodies_out = served.adapter.handle(rows, context)
    assert len(bodies_out) == len(rows)
    return [(context.get_response_status(index)[0], json.loads(body))
            for index, body in enumerate(bodies_out)]


# Fixtures: each family's handler, alone and inside the adapter, and its sample request.

@pytest.fixture(scope="module", params=MODELS)
def family(request):
    return request.param


@pytest.fixture(scope="module")
def handler(family, checkpoint_dir):
    return handler_class(family).from_checkpoint_file(checkpoint_dir / family / "model.pt")


@pytest.fixture(scope="module")
def served(family, checkpoint_dir, tmp_path_factory):
    return InProcessHandler(family, checkpoint_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def good(handler):
    """(body, content type, answer alone) of the family's sample request."""
    body, content_type = sample_body(handler.family)
    [answer] = handler.handle([Request(body, content_type)])
    assert answer.status == 200
    return body, content_type, answer.body


# The properties.

@PROPERTY
@given(data=st.data())
def test_any_request_gets_its_documented_answer_or_a_400(family, handler, data):
    body = data.draw(body_strategy(family), label="body")
    content_type = data.draw(st.sampled_from(CONTENT_TYPES), label="content type")
    # A JSON string or null the server parsed arrives as str or None with parsed set.
    parsed = (body is None or isinstance(body, str)) and data.draw(st.booleans(), label="parsed")
    [answer] = handler.handle([Request(body, content_type, parsed)])
    check_answer(family, handler, answer.status, answer.body)


@BATCH_PROPERTY
@given(data=st.data())
def test_bad_requests_in_a_batch_never_change_the_good_answer(family, handler, good, data):
    body, content_type, alone = good
    others = data.draw(st.lists(st.tuples(body_strategy(family), st.sampled_from(CONTENT_TYPES)),
                                min_size=1, max_size=5), label="others")
    position = data.draw(st.integers(0, len(others)), label="position")
    requests = [Request(b, t) for b, t in others]
    requests.insert(position, Request(body, content_type))
    answers = handler.handle(requests)
    assert len(answers) == len(requests)
    assert (answers[position].status, answers[position].body) == (200, alone)
    for answer in answers:
        check_answer(family, handler, answer.status, answer.body)


@PROPERTY
@given(data=st.data())
def test_any_http_request_through_the_adapter_gets_its_documented_answer_or_a_400(
        family, served, data):
    requests = data.draw(st.lists(row_strategy(family), min_size=1, max_size=4), label="requests")
    for status, body in run_adapter(served, requests):
        check_answer(family, served.handler, status, body)


@BATCH_PROPERTY
@given(data=st.data())
def test_bad_http_requests_in_a_batch_never_change_the_good_answer(family, served, good, data):
    body, content_type, alone = good
    others = data.draw(st.lists(row_strategy(family), min_size=1, max_size=5), label="others")
    position = data.draw(st.integers(0, len(others)), label="position")
    requests = list(others)
    requests.insert(position, ({"body": worker_value(body, content_type)},
                               {"body": content_type}, content_type))
    results = run_adapter(served, requests)
    assert results[position] == (200, alone)
    for status, answer in results:
        check_answer(family, served.handler, status, answer)
