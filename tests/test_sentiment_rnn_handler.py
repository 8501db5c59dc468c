"""The sentiment_rnn handler in-process, through the TorchServe adapter and TorchServe's own context objects."""

import json
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from families.sentiment_rnn import HAND_WRITTEN
from handlers.messages import Request
from handlers.sentiment_rnn import SentimentRNNHandler
from models.sentiment_rnn import MAX_TEXT_CHARS
from models.text import PAD_ID, normalize_text, pad_token_ids
from tests.in_process import InProcessHandler, expected_answers

ROOT = Path(__file__).resolve().parent.parent
REVIEW = "The delivery was slow, but the camera is excellent and I would buy it again!"
TEXT = {"body": "text/plain"}
JSON = {"body": "application/json"}


@pytest.fixture(scope="module")
def served(checkpoint_dir, tmp_path_factory):
    return InProcessHandler("sentiment_rnn", checkpoint_dir, tmp_path_factory)


def text_row(text):
    return {"body": text, "_content_types": TEXT}


def test_initialize_loads_the_model_on_the_cpu_with_one_torch_thread(served):
    assert served.adapter.initialized
    assert isinstance(served.handler, SentimentRNNHandler)
    assert next(served.handler.model.parameters()).device.type == "cpu"
    assert not served.handler.model.training
    assert torch.get_num_threads() == 1  # handler.torch_threads in model-config


def test_answer_is_the_label_and_its_probability_to_four_decimals(served):
    results = served.run([text_row(text) for text, _ in HAND_WRITTEN])
    model = served.handler.model
    for (text, label), (status, answer) in zip(HAND_WRITTEN, results):
        assert status == 200 and set(answer) == {"label", "probability"}
        with torch.inference_mode():
            positive = float(torch.sigmoid(model(*pad_token_ids([model.encode(normalize_text(text))]))))
        assert answer["label"] == ("positive" if positive >= 0.5 else "negative")
        expected = positive if answer["label"] == "positive" else 1.0 - positive
        assert answer["probability"] == round(expected, 4)
        assert 0.5 <= answer["probability"] <= 1.0


def test_every_body_form_gives_the_same_answer(served):
    as_json = json.dumps({"text": REVIEW})
    rows = [
        text_row(REVIEW),
        {"body": REVIEW, "_content_types": {"body": "text/plain; charset=utf-8"}},
        {"body": REVIEW.encode()},  # no content type: raw bytes
        {"body": bytearray(REVIEW.encode())},
        {"data": REVIEW, "_content_types": {"data": "text/plain"}},  # multipart field "data"
        {"review": REVIEW.encode()},  # a single multipart field of any name
        {"body": {"text": REVIEW}, "_content_types": JSON},  # JSON TorchServe decoded
        {"body": as_json.encode(), "_content_types": {"body": "application/json; charset=utf-8"}},
        {"body": as_json.encode()},  # JSON with no content type
        {"body": as_json, "_content_types": {"body": "text/json"}},
        # Dirty text is cleaned exactly as the training data was.
        text_row("\ufeff  " + REVIEW.replace(" ", "\u00a0", 3).replace("camera", "ｃａｍ\u200bｅｒａ")
                 + "\x07\n"),
    ]
    results = served.run(rows)
    assert [status for status, _ in results] == [200] * len(rows)
    assert all(answer == results[0][1] for _, answer in results)
    assert results[0][1]["label"] == "positive"


def test_a_text_plain_body_that_looks_like_json_is_read_as_text(served):
    [(status, answer)] = served.run([text_row('{"text": "awful"}')])
    assert status == 200 and set(answer) == {"label", "probability"}


def test_a_text_of_exactly_the_maximum_length_is_accepted(served):
    text = ((REVIEW + " ") * 20)[:MAX_TEXT_CHARS - 1] + "!"
    assert len(text) == MAX_TEXT_CHARS
    [(status, answer)] = served.run([text_row(text)])
    assert status == 200 and answer["label"] == "positive"


BAD_INPUTS = {
    "empty body": ({"body": b""}, "empty request body"),
    "no body at all": ({}, "empty request body"),
    "empty text/plain body": (text_row(""), "empty request body"),
    "white space only": (text_row(" \t\n\u00a0 "), "text is empty or only white space"),
    "invisible characters only": (text_row("\u200b\ufeff\x07"), "text is empty or only white space"),
    "text too long": (text_row("a" * (MAX_TEXT_CHARS + 1)),
                      "text is 1,001 characters long; the limit is 1,000"),
    "JSON text too long": ({"body": {"text": "b" * 5000}, "_content_types": JSON},
                           "text is 5,000 characters long; the limit is 1,000"),
    "invalid UTF-8": ({"body": b"caf\xe9 was great"}, "body is not valid UTF-8 text"),
    # TorchServe forwards a text/* body it cannot decode as raw bytes.
    "invalid UTF-8 sent as text/plain": ({"body": b"\xff\xfe bad", "_content_types": TEXT},
                                         "body is not valid UTF-8 text: byte 0xff at position 0"),
    "invalid UTF-8 in JSON": ({"body": b'{"text": "caf\xe9"}', "_content_types": JSON},
                              "JSON body is not valid UTF-8"),
    "malformed JSON": ({"body": b'{"text": "abc', "_content_types": JSON}, "malformed JSON"),
    "JSON null": ({"body": None, "_content_types": JSON}, "must be an object"),
    "JSON array": ({"body": ["great"], "_content_types": JSON}, "not an array"),
    "JSON string": ({"body": "great", "_content_types": JSON}, "not a string"),
    "JSON number": ({"body": 4, "_content_types": JSON}, "not a number"),
    "JSON without text": ({"body": {"review": "great"}, "_content_types": JSON}, "is missing field(s): text"),
    "raw JSON without text": ({"body": b'{"txt": "great"}'}, "is missing field(s): text"),
    "text a number": ({"body": {"text": 5}}, '"text" must be a string, not a number'),
    "text null": ({"body": {"text": None}}, '"text" must be a string, not null'),
    "text an array": ({"body": {"text": ["great"]}}, '"text" must be a string, not an array'),
    "text an object": ({"body": {"text": {"en": "great"}}}, '"text" must be a string, not an object'),
    "unknown JSON field": ({"body": {"text": "great", "lang": "en"}},
                           "has unknown field(s): lang"),
    "JSON text empty": ({"body": {"text": " \n "}}, "text is empty or only white space"),
    "JSON nested too deeply": ({"body": b"[" * 100_000, "_content_types": JSON}, "malformed JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_answers_400_naming_the_problem(served, case):
    row, expected = BAD_INPUTS[case]
    [(status, answer)] = served.run([row])
    assert status == 400
    assert answer["code"] == 400 and answer["type"] == "InvalidInput"
    assert expected in answer["message"]


def test_bad_requests_in_a_batch_never_fail_the_good_ones(served, checkpoint_dir):
    rows = [text_row(text) for text, _ in HAND_WRITTEN]
    bad = [BAD_INPUTS["invalid UTF-8"][0], BAD_INPUTS["text too long"][0],
           BAD_INPUTS["JSON without text"][0], BAD_INPUTS["white space only"][0]]
    for position, row in zip((0, 5, 9, 16), bad):
        rows.insert(position, row)
    results = served.run(rows)
    assert [index for index, (status, _) in enumerate(results) if status == 400] == [0, 5, 9, 16]
    good = [answer for status, answer in results if status == 200]
    assert good == expected_answers(checkpoint_dir, "sentiment_rnn",
                                    [text for text, _ in HAND_WRITTEN], "text/plain")


def test_collate_pads_to_the_longest_text_and_carries_lengths(checkpoint_dir):
    handler = SentimentRNNHandler.from_checkpoint_file(checkpoint_dir / "sentiment_rnn" / "model.pt")
    inputs = [handler.preprocess(text) for text in ("Great!", REVIEW, "Awful service.")]
    ids, lengths = handler.collate(inputs)
    assert lengths.tolist() == [int(length) for _, length in inputs]
    assert ids.shape[:2] == (3, max(lengths.tolist()))
    for row, (single, length) in enumerate(inputs):
        width = single.shape[2]
        assert torch.equal(ids[row, :int(length), :width], single[0])
        assert (ids[row, int(length):] == PAD_ID).all() and (ids[row, :, width:] == PAD_ID).all()


def test_a_batch_gives_the_same_answers_as_one_by_one(checkpoint_dir):
    handler = SentimentRNNHandler.from_checkpoint_file(checkpoint_dir / "sentiment_rnn" / "model.pt")
    requests = [Request(text, "text/plain") for text, _ in HAND_WRITTEN]
    requests.append(Request(" ".join(text for text, _ in HAND_WRITTEN[:5]), "text/plain"))
    together = handler.handle(requests)
    alone = [handler.handle([request])[0] for request in requests]
    assert [a.body["label"] for a in together] == [a.body["label"] for a in alone]
    for batched, single in zip(together, alone):
        assert batched.body["probability"] == pytest.approx(single.body["probability"], abs=1e-4)


def torchserve_decoded(body: bytes, content_type):
    """Raw bytes → the body as TorchServe hands it over for that content type."""
    if content_type == "application/json":
        try:
            return json.loads(body.decode("utf-8"))
        except Exception:  # TorchServe forwards what it cannot decode as bytes
            return body
    if content_type and content_type.startswith("text"):
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return body
    return body


CONTENT_TYPES = st.sampled_from([None, "text/plain", "application/json", "text/json",
                                 "application/json; charset=utf-8", "application/octet-stream"])
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.sampled_from(["text", "lang", "x"]), inner,
                                             max_size=3), max_leaves=8)


@pytest.fixture(scope="module")
def handler(checkpoint_dir):
    return SentimentRNNHandler.from_checkpoint_file(checkpoint_dir / "sentiment_rnn" / "model.pt")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=64), st.text(max_size=64).map(str.encode),
                      JSON_VALUES.map(lambda value: json.dumps(value).encode()),
                      st.text(max_size=64).map(lambda text: json.dumps({"text": text}).encode()),
                      st.just(b"[" * 100_000), st.just(b'{"text": ' + b"9" * 5000 + b"}")),
       content_type=CONTENT_TYPES)
def test_any_body_gets_an_answer_or_a_400_never_an_exception(handler, body, content_type):
    request = Request(torchserve_decoded(body, content_type), content_type)
    [answer] = handler.handle([request])
    assert answer.status in (200, 400)
    if answer.status == 200:
        assert set(answer.body) == {"label", "probability"}
    else:
        assert answer.body["message"]
