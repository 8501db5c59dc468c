"""digits_cnn on a real TorchServe: parity with the checkpoint, tokens, scaling, settings, metrics, bad input."""

import base64
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from PIL import Image

from families.digits_cnn_pictures import STROKES, draw_digit, encode
from handlers.digits_cnn import DigitsCNNHandler
from handlers.messages import Request
from harness.torchserve import HTTP_TIMEOUT, bearer
from models.digits_cnn import digits_to_image
from models.images import MAX_PIXELS
from tests.calls import assert_invalid_input, post
from tests.in_process import assert_same_answers, expected_answers
from training.digits_data import load_digit_splits

PNG = {"Content-Type": "image/png"}
JSON = {"Content-Type": "application/json"}


def predict(server, body, headers=PNG, key=None, model="digits_cnn"):
    return post(server, model, body, None, headers=headers, key=key)


def test_test_split_pngs_get_the_in_process_answers_and_97_percent(server, checkpoint_dir,
                                                                   digits_cnn_checkpoint):
    splits = load_digit_splits(seed=digits_cnn_checkpoint["data"]["split"]["seed"],
                               log=lambda line: None)
    pngs = [encode(digits_to_image(image)) for image in splits.test_raw]
    in_process = DigitsCNNHandler.from_checkpoint_file(checkpoint_dir / "digits_cnn" / "model.pt")
    expected = [answer.body for answer in in_process.handle([Request(png) for png in pngs])]

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda png: predict(server, png), pngs))
    assert [r.status_code for r in responses] == [200] * len(pngs)
    served = [r.json() for r in responses]
    assert_same_answers(served, expected, "digits_cnn")

    correct = sum(answer["label"] == str(int(label)) for answer, label in zip(served, splits.test_y))
    assert correct / len(pngs) >= 0.97


def test_json_base64_and_multipart_bodies_are_accepted(server, checkpoint_dir):
    png = encode(draw_digit("7"))
    plain = predict(server, png).json()
    as_json = predict(server, f'{{"image": "{base64.b64encode(png).decode()}"}}', JSON)
    as_form = requests.post(f"{server.inference_url}/predictions/digits_cnn",
                            files={"data": ("seven.png", png, "image/png")},
                            headers=bearer(server.inference_key()), timeout=HTTP_TIMEOUT)
    assert as_json.status_code == as_form.status_code == 200
    assert as_json.json() == as_form.json() == plain
    assert [plain] == expected_answers(checkpoint_dir, "digits_cnn", [png])


@pytest.mark.parametrize("url_kind", ["predictions", "ping", "management"])
def test_requests_without_or_with_a_wrong_token_are_refused(server, url_kind):
    url, method, good_key = {
        "predictions": (f"{server.inference_url}/predictions/digits_cnn", "post",
                        server.inference_key()),
        "ping": (f"{server.inference_url}/ping", "get", server.inference_key()),
        "management": (f"{server.management_url}/models", "get", server.management_key()),
    }[url_kind]
    body = encode(draw_digit("1")) if method == "post" else None
    send = getattr(requests, method)
    for headers in ({}, bearer("wrong-key"), bearer(server.management_key() + "x")):
        response = send(url, data=body, headers={**PNG, **headers}, timeout=HTTP_TIMEOUT)
        assert response.status_code == 400
        assert response.json()["type"] == "InvalidKeyException"
    accepted = send(url, data=body, headers={**PNG, **bearer(good_key)}, timeout=HTTP_TIMEOUT)
    assert accepted.status_code == 200


def test_the_inference_key_does_not_open_the_management_api(server):
    response = requests.get(f"{server.management_url}/models",
                            headers=bearer(server.inference_key()), timeout=HTTP_TIMEOUT)
    assert response.status_code == 400


def test_model_description_shows_the_batch_settings_from_model_config(server):
    [description] = server.describe("digits_cnn")
    assert (description["batchSize"], description["maxBatchDelay"]) == (32, 2)
    assert (description["minWorkers"], description["maxWorkers"]) == (1, 2)
    assert description["responseTimeout"] == 30


def test_scaling_to_two_workers_keeps_predictions_working(server, checkpoint_dir):
    url = f"{server.management_url}/models/digits_cnn"
    auth = bearer(server.management_key())
    try:
        scaled = requests.put(url, params={"min_worker": 2, "synchronous": "true"}, headers=auth,
                              timeout=120)
        assert scaled.status_code == 200, scaled.text
        assert len(server.worker_pids("digits_cnn")) == 2
        pictures = [encode(draw_digit(digit)) for digit in STROKES] * 3
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = [r.json() for r in pool.map(lambda p: predict(server, p), pictures)]
        assert_same_answers(answers, expected_answers(checkpoint_dir, "digits_cnn", pictures),
                            "digits_cnn")
    finally:
        # TorchServe stops workers only above max_worker: shrink to 1, then restore the range.
        for maximum in (1, 2):
            requests.put(url, params={"min_worker": 1, "max_worker": maximum,
                                      "synchronous": "true"}, headers=auth, timeout=120)
    assert len(server.worker_pids("digits_cnn")) == 1


def test_metrics_endpoint_serves_prometheus_text(server):
    predict(server, encode(draw_digit("2")))
    response = requests.get(f"{server.metrics_url}/metrics", timeout=HTTP_TIMEOUT)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE ts_inference_requests_total counter" in text
    assert 'ts_inference_requests_total{model_name="digits_cnn"' in text


def huge_png():
    side = int(MAX_PIXELS ** 0.5) + 1
    return encode(Image.new("L", (side, side), 255))


HTTP_BAD_INPUTS = {
    "empty body": (b"", PNG, "empty request body"),
    "not an image": (b"plain words, no picture", PNG, "not a PNG, JPEG, BMP, GIF or WebP"),
    "truncated image": (encode(draw_digit("3"))[:150], PNG, "truncated or corrupt"),
    "too many pixels": (huge_png(), PNG, "the limit is 16,777,216"),
    "malformed JSON": (b'{"image": ', JSON, "malformed JSON"),
    "bad base64": (b'{"image": "%%%"}', JSON, "not valid base64"),
    "JSON without image": (b'{"img": "x"}', JSON, "is missing field(s): image"),
}


@pytest.mark.parametrize("case", sorted(HTTP_BAD_INPUTS))
def test_bad_input_answers_400_and_the_worker_keeps_serving(server, checkpoint_dir, case):
    body, headers, expected = HTTP_BAD_INPUTS[case]
    pids_before = server.worker_pids("digits_cnn")
    assert_invalid_input(predict(server, body, headers), expected)

    four = encode(draw_digit("4"))
    following = predict(server, four)
    assert following.status_code == 200
    assert [following.json()] == expected_answers(checkpoint_dir, "digits_cnn", [four])
    assert server.worker_pids("digits_cnn") == pids_before


def test_concurrent_good_and_bad_requests_each_get_their_own_answer(server, checkpoint_dir):
    cases = []
    for digit in STROKES:
        picture = encode(draw_digit(digit))
        [answer] = expected_answers(checkpoint_dir, "digits_cnn", [picture])
        cases.append((picture, 200, answer))
        cases.append((b"not an image " + digit.encode(), 400, None))
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(lambda case: predict(server, case[0]), cases * 2))
    for (body, status, answer), response in zip(cases * 2, responses):
        assert response.status_code == status
        if answer is not None:
            assert response.json() == answer
