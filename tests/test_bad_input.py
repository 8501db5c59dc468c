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

import base64
import json
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image
from urllib3 import encode_multipart_formdata

from families.digits_cnn_pictures import draw_digit, encode, png_declaring
from handlers import handler_class
from handlers.messages import Request
from tests.calls import post
from tests.under_test import MODELS

ROOT = Path(__file__).resolve().parent.parent
MAX_REQUEST_SIZE = 10 * 1024 * 1024  # config.properties: max_request_size
FORM = "application/x-www-form-urlencoded"
# The field each family reads, and a valid JSON request to spoil one value of.
FIELD = {"digits_cnn": "image", "sentiment_rnn": "text", "digits_gan": "digit",
         "diabetes_mlp": "bp"}
PNG = (ROOT / "samples" / "digit_3.png").read_bytes()
REVIEW = (ROOT / "samples" / "review.txt").read_text()
VALID_JSON = {
    "digits_cnn": {"image": base64.b64encode(PNG).decode()},
    "sentiment_rnn": {"text": REVIEW},
    "digits_gan": json.loads((ROOT / "samples" / "gan_request.json").read_text()),
    "diabetes_mlp": json.loads((ROOT / "samples" / "patient.json").read_text()),
}
RANDOM_BYTES = random.Random(0).randbytes(512)
SAME_AS_GOOD = None  # a 200 whose answer must equal the sample request's


def good_request(model):
    """The family's sample request: (body, content type)."""
    path, content_type = handler_class(model).sample
    return (ROOT / path).read_bytes(), content_type


def spoiled(model, literal: bytes) -> bytes:
    """The family's valid JSON with its main field written as `literal` (NaN, 1e400, …)."""
    body = json.dumps({**VALID_JSON[model], FIELD[model]: "<value>"}).encode()
    return body.replace(b'"<value>"', literal)


def multipart(fields: dict):
    """{name: (filename or None, data, content type)} → (body, Content-Type) of a form."""
    return encode_multipart_formdata({name: (filename, data, content_type) if filename else data
                                      for name, (filename, data, content_type) in fields.items()})


def every(status, message):
    """The same expectation for every model."""
    return {model: (status, message) for model in FIELD}


# Each case: name → {model: (body, content type, status, message substring)}; a model that is not
# listed does not get the case (it makes no sense there). A 200 with SAME_AS_GOOD must answer
# exactly what the model's sample request answers: the handler read the body despite its label.
def cases() -> dict:
    table = {}

    def add(name, request, expected):
        """`request`: (body, content type), or a function of the model giving one."""
        table[name] = {model: (*(request(model) if callable(request) else request), *want)
                       for model, want in expected.items()}

    utf8_json = "JSON body is not valid UTF-8"
    not_an_image = "body is not a PNG, JPEG, BMP, GIF or WebP image"

    # Empty and undecodable bodies.
    add("empty body", lambda m: (b"", good_request(m)[1]), every(400, "empty request body"))
    add("empty body without a content type", (b"", None), every(400, "empty request body"))
    add("random bytes", (RANDOM_BYTES, "application/octet-stream"), {
        "digits_cnn": (400, not_an_image),
        "sentiment_rnn": (400, "body is not valid UTF-8 text: byte 0xcd at position 0"),
        "digits_gan": (400, utf8_json), "diabetes_mlp": (400, utf8_json)})
    add("invalid UTF-8 in JSON", (b'{"x": "caf\xe9"}', "application/json"), every(400, utf8_json))
    add("invalid UTF-8 text", (b"\xff\xfe great", "text/plain"), {
        "sentiment_rnn": (400, "body is not valid UTF-8 text: byte 0xff at position 0"),
        "digits_cnn": (400, not_an_image),
        "digits_gan": (400, utf8_json), "diabetes_mlp": (400, utf8_json)})

    # Wrong content types: refused where the body cannot be read as labelled, answered where the
    # handler reads it unambiguously (images by their bytes, JSON by its leading "{").
    add("image sent as application/json", (PNG, "application/json"), every(400, utf8_json))
    add("image sent as text/plain", (PNG, "text/plain"), {
        "digits_cnn": (200, SAME_AS_GOOD),
        "sentiment_rnn": (400, "body is not valid UTF-8 text: byte 0x89 at position 0"),
        "digits_gan": (400, utf8_json), "diabetes_mlp": (400, utf8_json)})
    add("image sent as application/octet-stream", (PNG, "application/octet-stream"),
        {"digits_cnn": (200, SAME_AS_GOOD)})
    add("JSON sent as image/png", lambda m: (json.dumps(VALID_JSON[m]).encode(), "image/png"),
        every(200, SAME_AS_GOOD))
    add("review sent as application/octet-stream", (REVIEW.encode(), "application/octet-stream"), {
        "sentiment_rnn": (200, SAME_AS_GOOD), "digits_cnn": (400, not_an_image),
        "digits_gan": (400, "malformed JSON"), "diabetes_mlp": (400, "malformed JSON")})
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
        add(f"JSON body that is {kind}", (literal, "application/json"), {
            "digits_cnn": (400, (f'JSON body must be an object like {{"image": "<base64>"}}, '
                                 f"not {kind}")),
            "sentiment_rnn": (400, (f'JSON body must be an object like {{"text": "..."}}, '
                                    f"not {kind}")),
            "digits_gan": (400, ("JSON body must be an object like "
                                 f'{{"digit": 7, "count": 4, "seed": 123}}, not {kind}')),
            "diabetes_mlp": (400, "record 0 must be an object, not a number" if kind == "an array"
                             else f"JSON body must be a record or a list of records, not {kind}")})
    add("missing fields", (b"{}", "application/json"), {
        "digits_cnn": (400, "JSON body is missing field(s): image"),
        "sentiment_rnn": (400, "JSON body is missing field(s): text"),
        "digits_gan": (400, "JSON body is missing field(s): digit"),
        "diabetes_mlp": (400, "JSON body is missing field(s): age, sex, bmi, bp, s1 and 5 more")})
    add("an unknown field",
        lambda m: (json.dumps({**VALID_JSON[m], "colour": "red"}).encode(), "application/json"),
        every(400, "JSON body has unknown field(s): colour"))

    # Wrong value types, NaN and infinity in the field each family reads.
    for literal, kind, as_written in [(b'["7"]', "an array", "an array"),
                                      (b"{}", "an object", "an object"),
                                      (b"true", "a boolean", "true"), (b"null", "null", "null")]:
        add(f"field that is {kind}", lambda m, literal=literal: (spoiled(m, literal),
                                                                 "application/json"), {
            "digits_cnn": (400, f'"image" must be a base64 string, not {kind}'),
            "sentiment_rnn": (400, f'"text" must be a string, not {kind}'),
            "digits_gan": (400, f'"digit" must be an integer from 0 to 9, not {as_written}'),
            "diabetes_mlp": (400, f'field "bp" must be a number, not {kind}')})
    for literal, diabetes, gan in [(b"NaN", "is NaN", "NaN"),
                                   (b"Infinity", "is infinite", "Infinity"),
                                   (b"-Infinity", "is infinite", "-Infinity"),
                                   (b"1e400", "is infinite", "Infinity")]:
        add(f"field that is {literal.decode()}", lambda m, literal=literal: (
            spoiled(m, literal), "application/json"), {
            "digits_cnn": (400, '"image" must be a base64 string, not a number'),
            "sentiment_rnn": (400, '"text" must be a string, not a number'),
            "digits_gan": (400, f'"digit" must be an integer from 0 to 9, not {gan}'),
            "diabetes_mlp": (400, f'field "bp" {diabetes}; send a finite number')})

    # Oversized input, below and above what the frontend accepts.
    add("a 5,000,000-character field",
        lambda m: (spoiled(m, b'"' + b"A" * 5_000_000 + b'"'), "application/json"), {
            "digits_cnn": (400, not_an_image),  # valid base64 of zeros
            "sentiment_rnn": (400, "text is 5,000,000 characters long; the limit is 1,000"),
            "digits_gan": (400, '"digit" must be an integer from 0 to 9, not a string'),
            "diabetes_mlp": (400, 'field "bp" must be a number, not a string')})
    add("a text one character too long", (b"a" * 1001, "text/plain"),
        {"sentiment_rnn": (400, "text is 1,001 characters long; the limit is 1,000")})
    add("1,001 records", (json.dumps([VALID_JSON["diabetes_mlp"]] * 1001).encode(),
                          "application/json"),
        {"diabetes_mlp": (400, "list holds 1,001 records; the limit is 1,000 per request")})
    add("a body over max_request_size", lambda m: (b"\0" * (MAX_REQUEST_SIZE + 1),
                                                   good_request(m)[1]), every(413, ""))

    # Images: cut short, damaged, bombs, blank.
    corrupt = bytearray(PNG)
    start = PNG.index(b"IDAT") + 14
    corrupt[start:start + 20] = bytes(b ^ 0xFF for b in PNG[start:start + 20])
    over_limit = "image is 4097x4096 = 16,781,312 pixels; the limit is 16,777,216"
    for name, body, message in [
            ("a truncated PNG", PNG[:len(PNG) // 2], "image is truncated or corrupt"),
            ("a corrupt PNG", bytes(corrupt), "image is truncated or corrupt"),
            ("a truncated JPEG", encode(draw_digit("5"), "JPEG")[:300], "image header is corrupt"),
            ("a PNG declaring 100000x100000 pixels", png_declaring(100_000, 100_000),
             "image has too many pixels; the limit is 16,777,216"),
            ("a PNG declaring 4097x4096 pixels", png_declaring(4097, 4096), over_limit),
            ("a real 4097x4096 PNG", encode(Image.new("L", (4097, 4096), 255)), over_limit),
            ("a blank picture", encode(Image.new("L", (64, 64), 255)),
             "the image holds no visible digit")]:
        add(name, (body, "image/png"), {"digits_cnn": (400, message)})
    add("image field that is not base64", (b'{"image": "%%%"}', "application/json"),
        {"digits_cnn": (400, '"image" is not valid base64')})

    # Family-specific limits.
    add("only white space", (" \t\n\u00a0\u200b ".encode(), "text/plain"),
        {"sentiment_rnn": (400, "text is empty or only white space")})
    for name, body, message in [
            ("digit 10", {"digit": 10}, '"digit" must be from 0 to 9, not 10'),
            ("digit 7.0", {"digit": 7.0}, '"digit" must be an integer from 0 to 9, not 7.0'),
            ("count 17", {"digit": 7, "count": 17}, '"count" must be from 1 to 16, not 17'),
            ("seed -1", {"digit": 7, "seed": -1},
             '"seed" must be from 0 to 9223372036854775807, not -1'),
            ("seed 2**63", {"digit": 7, "seed": 2**63},
             '"seed" must be from 0 to 9223372036854775807')]:
        add(name, (json.dumps(body).encode(), "application/json"), {"digits_gan": (400, message)})
    patient = VALID_JSON["diabetes_mlp"]
    for name, body, message in [
            ("an empty list", [], "empty list: send from 1 to 1,000 records"),
            ("a bad record in a list", [patient, {**patient, "bmi": "high"}],
             'record 1: field "bmi" must be a number, not a string'),
            ("a value beyond 1,000,000", {**patient, "s1": 1e7},
             'field "s1" is beyond ±1,000,000')]:
        add(name, (json.dumps(body).encode(), "application/json"), {"diabetes_mlp": (400, message)})

    # Forms: TorchServe's frontend decodes them and hands the worker only their fields.
    add("a form with two fields", lambda m: multipart(
        {"a": (None, b"x", None), "b": ("b", *good_request(m))}),
        every(400, "the form has 2 fields (a, b); send one, or name the one"))
    add("a multipart form with no field", (b"--zz--\r\n", "multipart/form-data; boundary=zz"),
        every(400, "the body was sent as a form and holds no field"))
    add("text sent as a url-encoded form", (b"great product", FORM),
        every(400, "the body was sent as a form and holds no field"))
    add("one form field of any name", lambda m: multipart({"upload": ("upload", *good_request(m))}),
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
    return {model: answer_alone(handler, *good_request(model))
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
    following = post(server, model, *good_request(model))
    assert following.status_code == 200, following.text[:300]
    assert following.json() == good_answer
    assert server.worker_pids(model) == pids_before


@pytest.mark.parametrize("model, case", MATRIX)
def test_each_bad_request_gets_its_answer_and_the_worker_keeps_serving(
        server, good_answers, model, case):
    body, content_type, status, message = CASES[case][model]
    pids_before = server.worker_pids(model)
    response = post(server, model, body, content_type)
    if status == 200:
        assert response.status_code == 200, response.text[:300]
        assert response.json() == good_answers[model]
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
    """Eight different good requests for `model`: (body, content type)."""
    if model == "digits_cnn":
        return [(encode(draw_digit(digit)), "image/png") for digit in "01234567"]
    if model == "sentiment_rnn":
        texts = ["great camera", "awful service, never again", "not bad at all", REVIEW,
                 "the food was cold and bland", "I loved every page", "it broke in a week",
                 "friendly staff and a fair price"]
        return [(text.encode(), "text/plain") for text in texts]
    if model == "digits_gan":
        return [(json.dumps({"digit": digit, "count": 3, "seed": 1000 + digit}).encode(),
                 "application/json") for digit in range(8)]
    patient = VALID_JSON["diabetes_mlp"]
    return [(json.dumps({**patient, "age": 30 + 5 * i, "bmi": 20.0 + i}).encode(),
             "application/json") for i in range(8)]


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
