"""Bad input on a real TorchServe: every served model × every bad request answers a 4xx that names
the problem, the worker stays up, and the next good request succeeds; in full batches, bad
requests never change the good ones' answers.

What TorchServe's frontend answers itself, before any handler code runs:
- a body over max_request_size (10 MiB): `413 Request Entity Too Large` with an empty body and
  `content-length: 0` (plus `connection: close` when the body came chunked); no JSON.
- a binary body sent as application/x-www-form-urlencoded, and other forms Netty's decoders cannot
  read (a field with no name, an empty multipart boundary, a part with no name or an unknown
  charset): 500 `{"code": 500, "type": "ErrorDataDecoderException", "message": ...}` (or
  StringIndexOutOfBoundsException), whose message may quote the body. Explicit strict xfails
  below, so the suite tells us if that ever changes.
"""

import json
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from urllib3 import encode_multipart_formdata

from handlers import handler_class
from handlers.messages import Request
from harness.examples import hook, sample_body
from tests.calls import post
from tests.protocol_bodies import plain_examples
from tests.under_test import MODELS

ROOT = Path(__file__).resolve().parent.parent
MAX_REQUEST_SIZE = 10 * 1024 * 1024  # config.properties: max_request_size
FORM = "application/x-www-form-urlencoded"
PNG = (ROOT / "samples" / "digit_3.png").read_bytes()  # a picture, sent to every family
REVIEW = (ROOT / "samples" / "review.txt").read_text()  # a text, sent to every family
RANDOM_BYTES = random.Random(0).randbytes(512)
SAME_AS_GOOD = None  # a 200 whose answer must equal the sample request's; a 200 with a
# content type instead must equal the in-process answer to the body sent with that type
# What a family that reads its body as JSON answers (handlers.base's decode), unless its
# BAD_INPUT_ANSWERS say otherwise.
UTF8_JSON = (400, "JSON body is not valid UTF-8")


def spoiled(model, literal: bytes) -> bytes:
    """The family's plain JSON example with the field it reads (BAD_INPUT_FIELD) written as
    `literal` (NaN, 1e400, …)."""
    body = json.dumps({**plain_examples(model)[0], hook(model, "BAD_INPUT_FIELD"): "<value>"})
    return body.encode().replace(b'"<value>"', literal)


def multipart(fields: dict):
    """{name: (filename or None, data, content type)} → (body, Content-Type) of a form."""
    return encode_multipart_formdata({name: (filename, data, content_type) if filename else data
                                      for name, (filename, data, content_type) in fields.items()})


def every(status, message):
    """The same expectation for every model."""
    return {model: (status, message) for model in MODELS}


def own(case, default=None, **blanks):
    """A case each family answers its own way → {model: (status, message)}: the family's
    BAD_INPUT_ANSWERS entry for the case's name, or for `case` with its blanks, or `default`; a
    family with none of them does not get the case."""
    expected = {}
    for model in MODELS:
        answers = hook(model, "BAD_INPUT_ANSWERS", {})
        answer = answers.get(case.format(**blanks), answers.get(case, default))
        if answer is not None:
            status, message = answer
            expected[model] = (status, message.format(**blanks) if message else message)
    return expected


# Each case: name → {model: (body, content type, status, message substring)}; a model that is not
# listed does not get the case (it makes no sense there). A 200 with SAME_AS_GOOD must answer
# exactly what the model's sample request answers: the handler read the body despite its label.
# The cases only one family gets are its bad_inputs().
def cases() -> dict:
    table = {}

    def add(name, request, expected):
        """`request`: (body, content type), or a function of the model giving one."""
        table[name] = {model: (*(request(model) if callable(request) else request), *want)
                       for model, want in expected.items()}

    # Empty and undecodable bodies.
    add("empty body", lambda m: (b"", sample_body(m)[1]), every(400, "empty request body"))
    add("empty body without a content type", (b"", None), every(400, "empty request body"))
    add("random bytes", (RANDOM_BYTES, "application/octet-stream"), own("random bytes", UTF8_JSON))
    add("invalid UTF-8 in JSON", (b'{"x": "caf\xe9"}', "application/json"), every(*UTF8_JSON))
    add("invalid UTF-8 text", (b"\xff\xfe great", "text/plain"),
        own("invalid UTF-8 text", UTF8_JSON))

    # Wrong content types: refused where the body cannot be read as labelled, answered where the
    # handler reads it unambiguously (images by their bytes, JSON by its leading "{").
    add("image sent as application/json", (PNG, "application/json"), every(*UTF8_JSON))
    add("image sent as text/plain", (PNG, "text/plain"), own("image sent as text/plain", UTF8_JSON))
    add("image sent as application/octet-stream", (PNG, "application/octet-stream"),
        own("image sent as application/octet-stream"))
    add("JSON sent as image/png", lambda m: (json.dumps(plain_examples(m)[0]).encode(), "image/png"),
        every(200, SAME_AS_GOOD))
    add("review sent as application/octet-stream", (REVIEW.encode(), "application/octet-stream"),
        own("review sent as application/octet-stream", (400, "malformed JSON")))
    add("review sent as application/json", (REVIEW.encode(), "application/json"),
        every(400, "malformed JSON: Expecting value"))

    # Malformed JSON and JSON of the wrong shape.
    add("malformed JSON", (b'{"digit": 7', "application/json"), every(400, "malformed JSON"))
    add("deeply nested JSON", (b"[" * 100_000 + b"]" * 100_000, "application/json"),
        every(400, "malformed JSON: nested too deeply"))
    add("an integer of 5,000 digits",
        lambda m: (spoiled(m, b"1" + b"0" * 4999), "application/json"),
        every(400, "malformed JSON: Exceeds the limit (4300 digits)"))
    for literal, kind in [(b"[1, 2]", "an array"), (b'"hello"', "a string"), (b"42", "a number"),
                          (b"null", "null")]:
        add(f"JSON body that is {kind}", (literal, "application/json"),
            own("JSON body that is {kind}", kind=kind))
    add("missing fields", (b"{}", "application/json"), own("missing fields"))
    add("an unknown field",
        lambda m: (json.dumps({**plain_examples(m)[0], "colour": "red"}).encode(),
                   "application/json"),
        every(400, "JSON body has unknown field(s): colour"))

    # Wrong value types, NaN and infinity in the field each family reads.
    for literal, kind, as_written in [(b'["7"]', "an array", "an array"),
                                      (b"{}", "an object", "an object"),
                                      (b"true", "a boolean", "true"), (b"null", "null", "null")]:
        add(f"field that is {kind}", lambda m, literal=literal: (spoiled(m, literal),
                                                                 "application/json"),
            own("field that is {kind}", kind=kind, as_written=as_written))
    for literal, what, as_json in [(b"NaN", "NaN", "NaN"), (b"Infinity", "infinite", "Infinity"),
                                   (b"-Infinity", "infinite", "-Infinity"),
                                   (b"1e400", "infinite", "Infinity")]:
        add(f"field that is {literal.decode()}", lambda m, literal=literal: (
            spoiled(m, literal), "application/json"),
            own("field that is {literal}", literal=literal.decode(), what=what, as_json=as_json))

    # Oversized input, below and above what the frontend accepts.
    add("a 5,000,000-character field",
        lambda m: (spoiled(m, b'"' + b"A" * 5_000_000 + b'"'), "application/json"),
        own("a 5,000,000-character field"))
    add("a body over max_request_size", lambda m: (b"\0" * (MAX_REQUEST_SIZE + 1),
                                                   sample_body(m)[1]), every(413, ""))

    # What only one family reads.
    for model in MODELS:
        for name, request in hook(model, "bad_inputs", dict)().items():
            assert model not in table.get(name, {}), f"{model}: {name!r} is a case every family gets"
            table.setdefault(name, {})[model] = request

    # Forms: TorchServe's frontend decodes them and hands the worker only their fields.
    add("a form with two fields", lambda m: multipart(
        {"a": (None, b"x", None), "b": ("b", *sample_body(m))}),
        every(400, "the form has 2 fields (a, b); send one, or name the one"))
    add("a multipart form with no field", (b"--zz--\r\n", "multipart/form-data; boundary=zz"),
        every(400, "the body was sent as a form and holds no field"))
    add("text sent as a url-encoded form", (b"great product", FORM),
        every(400, "the body was sent as a form and holds no field"))
    add("one form field of any name", lambda m: multipart({"upload": ("upload", *sample_body(m))}),
        every(200, SAME_AS_GOOD))
    return table


CASES = cases()
MATRIX = [pytest.param(model, name, id=f"{model}-{name}")
          for name in CASES for model in MODELS if model in CASES[name]]


@pytest.fixture(scope="module")
def in_process(checkpoint_dir):
    """Each family's handler in this process: what the served answers must equal."""
    return {model: handler_class(model).from_checkpoint_file(checkpoint_dir / model / "model.pt")
            for model in MODELS}


def answer_alone(handler, body, content_type):
    [answer] = handler.handle([Request(body, content_type)])
    assert answer.status == 200, answer.body
    return answer.body


@pytest.fixture(scope="module")
def good_answers(in_process):
    return {model: answer_alone(handler, *sample_body(model))
            for model, handler in in_process.items()}


def check_refusal(response, status, message):
    """A handler's 400 names the problem in JSON; the frontend's 413 is an empty response."""
    assert response.status_code == status, response.text[:300]
    if status == 413:
        assert response.reason == "Request Entity Too Large"
        assert response.content == b"" and response.headers["content-length"] == "0"
        assert "content-type" not in response.headers
        return
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert error["code"] == status and error["type"] == "InvalidInput"
    assert message in error["message"], error["message"]


def check_still_serving(server, model, pids_before, good_answer):
    following = post(server, model, *sample_body(model))
    assert following.status_code == 200, following.text[:300]
    assert following.json() == good_answer
    assert server.worker_pids(model) == pids_before


@pytest.mark.parametrize("model, case", MATRIX)
def test_each_bad_request_gets_its_answer_and_the_worker_keeps_serving(
        server, good_answers, in_process, model, case):
    body, content_type, status, message = CASES[case][model]
    pids_before = server.worker_pids(model)
    response = post(server, model, body, content_type)
    if status == 200:
        assert response.status_code == 200, response.text[:300]
        assert response.json() == (good_answers[model] if message is SAME_AS_GOOD
                                   else answer_alone(in_process[model], body, message))
    else:
        check_refusal(response, status, message)
    check_still_serving(server, model, pids_before, good_answers[model])


# Bodies labelled as forms that TorchServe's Java frontend fails to decode (Netty's form decoders
# throw) and answers 500 itself, before any handler code runs: case → (body, Content-Type, the
# exception type it names).
FRONTEND_FAILURES = {
    "binary bytes as a url-encoded form": (RANDOM_BYTES, FORM, "ErrorDataDecoderException"),
    "a url-encoded field with no name": (b"=x", FORM, "ErrorDataDecoderException"),
    "a multipart form with an empty boundary": (b"x", "multipart/form-data; boundary=",
                                                "StringIndexOutOfBoundsException"),
    "a multipart part with no name": (
        b"--zz\r\nContent-Disposition: form-data\r\n\r\nhello\r\n--zz--\r\n",
        "multipart/form-data; boundary=zz", "ErrorDataDecoderException"),
    "a multipart part in an unknown charset": (
        (b'--zz\r\nContent-Disposition: form-data; name="data"\r\n'
         b"Content-Type: text/plain; charset=bogus\r\n\r\nhi\r\n--zz--\r\n"),
        "multipart/form-data; boundary=zz", "ErrorDataDecoderException"),
}


class FrontendAnswered500(Exception):
    """TorchServe's frontend answered 500 to a request no handler code saw."""


# Netty's form decoders throw on these bodies: clients must send a body with its own Content-Type.
@pytest.mark.xfail(strict=True, raises=FrontendAnswered500,
                   reason="TorchServe's frontend answers 500 to a form it cannot decode")
@pytest.mark.parametrize("model, case", [pytest.param(model, case, id=f"{model}-{case}")
                                         for case in FRONTEND_FAILURES for model in MODELS])
def test_a_form_the_frontend_cannot_decode_answers_4xx(server, good_answers, model, case):
    body, content_type, exception = FRONTEND_FAILURES[case]
    pids_before = server.worker_pids(model)
    response = post(server, model, body, content_type)
    # The worker never sees the request and keeps serving.
    check_still_serving(server, model, pids_before, good_answers[model])
    if response.status_code >= 500:
        assert response.status_code == 500 and response.json()["type"] == exception, response.text
        raise FrontendAnswered500(f"{response.status_code} {response.json()['type']}")
    check_refusal(response, 400, "")


# Batch isolation: full batches of mixed good and bad requests on a server made to batch.

BATCH_SIZE = 8  # conftest's batching_server batches up to 8 requests


def good_requests(model) -> list:
    """Eight different good requests for `model` (its good_requests): (body, content type)."""
    return hook(model, "good_requests")()


def bad_requests(model) -> list:
    """Eight of the matrix's 400 cases for `model`: (body, content type, message)."""
    refused = [(body, content_type, message) for by_model in CASES.values() if model in by_model
               for body, content_type, status, message in [by_model[model]]
               if status == 400 and len(body) < 100_000]
    return refused[::len(refused) // BATCH_SIZE][:BATCH_SIZE]


@pytest.mark.parametrize("model", MODELS)
def test_full_batches_answer_every_good_request_correctly_and_every_bad_one_400(
        batching_server, in_process, model):
    good = [(body, content_type, answer_alone(in_process[model], body, content_type))
            for body, content_type in good_requests(model)]
    bad = bad_requests(model)
    assert len(bad) == BATCH_SIZE
    # Interleaved, so every batch mixes the two.
    mixed = [request for pair in zip(good, bad) for request in pair] * 2
    mark = batching_server.log_mark()  # the server is shared: count only the batches below
    with ThreadPoolExecutor(max_workers=len(mixed)) as pool:
        responses = list(pool.map(
            lambda request: post(batching_server, model, request[0], request[1]), mixed))
    for (body, content_type, expected), response in zip(mixed, responses):
        if isinstance(expected, str):  # a bad request: its own 400
            check_refusal(response, 400, expected)
        else:
            assert response.status_code == 200, response.text[:300]
            assert response.json() == expected
    # The requests really shared worker calls.
    assert batching_server.largest_batch(model, since=mark) >= 4
