"""The digits_cnn handler in-process, through the TorchServe adapter and TorchServe's own context objects."""

import base64
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image
from ts.context import Context, RequestProcessor

from handlers.base import Request
from handlers.digits_cnn import MAX_IMAGE_PIXELS, DigitsCNNHandler
from handlers.torchserve_handler import TorchServeHandler
from tests.pictures import STROKES, draw_digit, encode

MODEL_CONFIG = Path(__file__).resolve().parent.parent / "model-config" / "digits_cnn.yaml"
PNG_3 = encode(draw_digit("3"))


def torchserve_context(model_dir, rows):
    """A TorchServe Context for a batch of rows, as the worker builds it."""
    manifest = {"model": {"modelName": "digits_cnn", "serializedFile": "model.pt",
                          "handler": "torchserve_handler.py"}}
    settings = yaml.safe_load(MODEL_CONFIG.read_text())
    context = Context("digits_cnn", str(model_dir), manifest, settings["batchSize"], None,
                      "0.12.0", model_yaml_config=settings)
    context.request_processor = [
        RequestProcessor({name: {"content-type": content_type}
                          for name, content_type in row.pop("_content_types", {}).items()})
        for row in rows
    ]
    return context


@pytest.fixture(scope="module")
def model_dir(checkpoint_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits_cnn_model_dir")
    shutil.copy(checkpoint_dir / "digits_cnn" / "model.pt", folder / "model.pt")
    return folder


@pytest.fixture(scope="module")
def adapter(model_dir):
    handler = TorchServeHandler()
    handler.initialize(torchserve_context(model_dir, []))
    return handler


def run_batch(adapter, model_dir, rows):
    """Rows → [(status, decoded JSON body)] through handle(), as TorchServe would call it."""
    context = torchserve_context(model_dir, rows)
    bodies = adapter.handle(rows, context)
    assert len(bodies) == len(rows)
    results = []
    for index, body in enumerate(bodies):
        status, _ = context.get_response_status(index)
        assert context.get_response_content_type(index) == "application/json"
        results.append((status, json.loads(body)))
    return results


def test_initialize_places_the_model_on_the_cpu_with_bounded_threads(adapter):
    assert adapter.initialized
    assert adapter.handler.device == torch.device("cpu")
    assert next(adapter.handler.model.parameters()).device.type == "cpu"
    assert not adapter.handler.model.training
    assert 1 <= torch.get_num_threads()


def test_answer_has_label_probability_and_top_3(adapter, model_dir):
    [(status, answer)] = run_batch(adapter, model_dir, [{"body": PNG_3}])
    assert status == 200
    assert answer["label"] == "3"
    assert answer["probability"] == answer["top_k"][0]["probability"] > 0.5
    assert [entry["label"] for entry in answer["top_k"]][0] == "3"
    assert len(answer["top_k"]) == 3 and len({e["label"] for e in answer["top_k"]}) == 3
    probabilities = [entry["probability"] for entry in answer["top_k"]]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001


def test_every_body_form_gives_the_same_answer(adapter, model_dir):
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
    results = run_batch(adapter, model_dir, rows)
    assert {status for status, _ in results} == {200}
    assert all(answer == results[0][1] for _, answer in results)


def truncated_png():
    return PNG_3[: len(PNG_3) // 2]


def too_many_pixels_png():
    side = int(MAX_IMAGE_PIXELS ** 0.5) + 1
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
    "JSON without image": ({"body": {"picture": "abc"}}, 'no "image" field'),
    "JSON not an object": ({"body": [1, 2, 3]}, "must be an object"),
    "image not a string": ({"body": {"image": 42}}, "must be a base64 string"),
    "bad base64": ({"body": {"image": "not*base64!"}}, "not valid base64"),
    "base64 of text": ({"body": {"image": base64.b64encode(b"text").decode()}}, "not a PNG"),
    "extra field": ({"body": {"image": "", "colour": 1}}, "unknown JSON field(s): colour"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_answers_400_naming_the_problem(adapter, model_dir, case):
    row, expected = BAD_INPUTS[case]
    [(status, answer)] = run_batch(adapter, model_dir, [dict(row)])
    assert status == 400
    assert answer["code"] == 400 and answer["type"] == "InvalidInput"
    assert expected in answer["message"]


def test_one_bad_request_in_a_batch_does_not_fail_the_others(adapter, model_dir):
    digits = list(STROKES)
    rows = [{"body": encode(draw_digit(digit))} for digit in digits]
    rows.insert(4, {"body": b"garbage"})
    rows.insert(7, {"body": truncated_png()})
    results = run_batch(adapter, model_dir, rows)
    assert [status for status, _ in results].count(400) == 2
    assert results[4][0] == 400 and results[7][0] == 400
    good = [answer["label"] for status, answer in results if status == 200]
    assert good == digits


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
