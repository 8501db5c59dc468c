"""The digits_cnn handler in-process, through the TorchServe adapter and TorchServe's own context objects."""

import base64
import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from families.digits_cnn_pictures import STROKES, draw_digit, encode
from handlers.digits_cnn import DigitsCNNHandler
from handlers.messages import Request
from models.images import MAX_PIXELS
from tests.in_process import InProcessHandler, expected_answers

ROOT = Path(__file__).resolve().parent.parent
# The README's sample, a hand-drawn 3: every trained model must read it (tests/test_readme.py).
PNG_3 = (ROOT / "samples" / "digit_3.png").read_bytes()


@pytest.fixture(scope="module")
def served(checkpoint_dir, tmp_path_factory):
    return InProcessHandler("digits_cnn", checkpoint_dir, tmp_path_factory)


def test_initialize_places_the_model_on_the_cpu_with_bounded_threads(served):
    assert served.adapter.initialized
    assert served.handler.device == torch.device("cpu")
    assert next(served.handler.model.parameters()).device.type == "cpu"
    assert not served.handler.model.training
    assert 1 <= torch.get_num_threads()


def test_answer_has_label_probability_and_top_3(served):
    [(status, answer)] = served.run([{"body": PNG_3}])
    assert status == 200
    assert answer["label"] == "3"
    assert answer["probability"] == answer["top_k"][0]["probability"] > 0.5
    assert [entry["label"] for entry in answer["top_k"]][0] == "3"
    assert len(answer["top_k"]) == 3 and len({e["label"] for e in answer["top_k"]}) == 3
    probabilities = [entry["probability"] for entry in answer["top_k"]]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001


def test_every_body_form_gives_the_same_answer(served):
    encoded = base64.b64encode(PNG_3).decode()
    rows = [
        {"body": PNG_3, "_content_types": {"body": "image/png"}},
        {"body": bytearray(PNG_3)},
        {"data": PNG_3},  # multipart field named data
        {"upload": PNG_3},  # a single multipart field of any name
        {"body": {"image": encoded}, "_content_types": {"body": "application/json"}},
        {"body": {"image": "data:image/png;base64," + encoded}},
        {"body": json.dumps({"image": encoded}).encode()},  # JSON TorchServe did not decode
        {"body": json.dumps({"image": encoded}), "_content_types": {"body": "text/plain"}},
    ]
    results = served.run(rows)
    assert {status for status, _ in results} == {200}
    assert all(answer == results[0][1] for _, answer in results)


def truncated_png():
    return PNG_3[: len(PNG_3) // 2]


def too_many_pixels_png():
    side = int(MAX_PIXELS ** 0.5) + 1
    return encode(Image.new("L", (side, side), 255))  # compresses to a few kB


BAD_INPUTS = {
    "empty body": ({"body": b""}, "empty request body"),
    "no body at all": ({}, "empty request body"),
    "not an image": ({"body": b"hello, this is plain text"}, "not a PNG, JPEG, BMP, GIF or WebP"),
    "unsupported format": ({"body": encode(draw_digit("3"), "TIFF")}, "not a PNG, JPEG"),
    "truncated image": ({"body": truncated_png()}, "truncated or corrupt"),
    "too many pixels": ({"body": too_many_pixels_png()}, "the limit is 16,777,216"),
    "blank image": ({"body": encode(Image.new("L", (64, 64), 255))}, "no visible digit"),
    "malformed JSON": ({"body": b'{"image": "abc', "_content_types": {"body": "application/json"}},
                       "malformed JSON"),
    "JSON without image": ({"body": {"picture": "abc"}}, "is missing field(s): image"),
    "JSON not an object": ({"body": [1, 2, 3], "_content_types": {"body": "application/json"}},
                           "must be an object"),
    "image not a string": ({"body": {"image": 42}, "_content_types": {"body": "application/json"}},
                           "must be a base64 string, not a number"),
    "bad base64": ({"body": {"image": "not*base64!"}}, "not valid base64"),
    "base64 of text": ({"body": {"image": base64.b64encode(b"text").decode()}}, "not a PNG"),
    "extra field": ({"body": b'{"image": "", "colour": 1}'}, "has unknown field(s): colour"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_answers_400_naming_the_problem(served, case):
    row, expected = BAD_INPUTS[case]
    [(status, answer)] = served.run([dict(row)])
    assert status == 400
    assert answer["code"] == 400 and answer["type"] == "InvalidInput"
    assert expected in answer["message"]


def test_one_bad_request_in_a_batch_does_not_fail_the_others(served, checkpoint_dir):
    pictures = [encode(draw_digit(digit)) for digit in STROKES]
    rows = [{"body": picture} for picture in pictures]
    rows.insert(4, {"body": b"garbage"})
    rows.insert(7, {"body": truncated_png()})
    results = served.run(rows)
    assert [status for status, _ in results].count(400) == 2
    assert results[4][0] == 400 and results[7][0] == 400
    good = [answer for status, answer in results if status == 200]
    assert good == expected_answers(checkpoint_dir, "digits_cnn", pictures)


def test_a_batch_gives_the_same_answers_as_one_by_one(checkpoint_dir):
    handler = DigitsCNNHandler.from_checkpoint_file(checkpoint_dir / "digits_cnn" / "model.pt")
    requests = [Request(encode(draw_digit(digit, size=size)))
                for digit in STROKES for size in (40, 120)]
    together = handler.handle(requests)
    alone = [handler.handle([request])[0] for request in requests]
    assert [a.body["label"] for a in together] == [a.body["label"] for a in alone]
    for batched, single in zip(together, alone):
        for x, y in zip(batched.body["top_k"], single.body["top_k"]):
            assert x["probability"] == pytest.approx(y["probability"], abs=1e-4)
