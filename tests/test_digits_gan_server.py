"""digits_gan on a real TorchServe: byte parity with the checkpoint, batch invariance, quality, sample.
Its bad input: tests/test_bad_input.py, with the cases of families/digits_gan.py."""

import base64
import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import yaml
from PIL import Image

from handlers.messages import Request
from harness.torchserve import HTTP_TIMEOUT, bearer
from tests.in_process import handler_fixture
from training.digits_gan_evaluation import classify_pngs, load_classifier

ROOT = Path(__file__).resolve().parent.parent
JSON = {"Content-Type": "application/json"}
SAMPLE = ROOT / "samples" / "gan_request.json"


def generate(server, body, headers=JSON):
    """POST a body (dict → JSON text, or raw bytes) to digits_gan → the response."""
    data = json.dumps(body) if isinstance(body, (dict, list)) else body
    return requests.post(f"{server.inference_url}/predictions/digits_gan", data=data,
                         headers={**headers, **bearer(server.inference_key())},
                         timeout=HTTP_TIMEOUT)


in_process = handler_fixture("digits_gan")


def expected_answer(in_process, body):
    [answer] = in_process.handle([Request(dict(body), "application/json")])
    assert answer.status == 200
    return answer.body


def test_served_images_equal_the_in_process_handlers_byte_for_byte(server, in_process):
    bodies = [{"digit": digit, "count": 16, "seed": 31_337 + digit} for digit in range(10)]
    for body in bodies:
        response = generate(server, body)
        assert response.status_code == 200, response.text
        served = response.json()
        expected = expected_answer(in_process, body)
        assert served == expected
        assert ([base64.b64decode(i) for i in served["images"]]
                == [base64.b64decode(i) for i in expected["images"]])


def test_a_request_alone_and_among_concurrent_different_ones_gets_the_same_bytes(batching_server):
    server = batching_server  # batches of up to 8 requests, waiting 200 ms for them to gather
    request = {"digit": 8, "count": 5, "seed": 777}
    alone = generate(server, request).json()
    mark = server.log_mark()  # the server is shared: count only the batches below
    others = [{"digit": d % 10, "count": 1 + d % 16, "seed": 1000 + d} for d in range(24)]
    mixed = []
    for other in others:
        mixed += [other, request]
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda body: generate(server, body), mixed))
    assert {r.status_code for r in responses} == {200}
    for body, response in zip(mixed, responses):
        answer = response.json()
        assert (answer["digit"], answer["seed"], len(answer["images"])) == (
            body["digit"], body["seed"], body["count"])
        if body is request:
            assert answer == alone
    # The requests really did share worker calls.
    assert server.largest_batch("digits_gan", since=mark) > 1


def test_the_classifier_reads_served_images_as_the_requested_digit(server, checkpoint_dir):
    classifier, _ = load_classifier(checkpoint_dir / "digits_cnn" / "model.pt")
    correct = {}
    for digit in range(10):
        answer = generate(server, {"digit": digit, "count": 16, "seed": 4242}).json()
        labels = classify_pngs(classifier, [base64.b64decode(i) for i in answer["images"]])
        correct[digit] = sum(label == digit for label in labels) / len(labels)
    assert min(correct.values()) >= 0.5, correct
    assert sum(correct.values()) / 10 >= 0.8, correct


def test_a_missing_seed_is_picked_by_the_server_and_reproduces_the_answer(server):
    first = generate(server, {"digit": 4, "count": 3})
    assert first.status_code == 200
    answer = first.json()
    assert isinstance(answer["seed"], int)
    again = generate(server, {"digit": 4, "count": 3, "seed": answer["seed"]}).json()
    assert again == answer


def test_the_sample_request_answers_as_the_readme_shows(server, in_process):
    sample = json.loads(SAMPLE.read_text())
    assert sample == {"digit": 7, "count": 4, "seed": 123}
    response = generate(server, SAMPLE.read_bytes())
    assert response.status_code == 200
    answer = response.json()
    assert (answer["digit"], answer["seed"], len(answer["images"])) == (7, 123, 4)
    for encoded in answer["images"]:
        image = Image.open(io.BytesIO(base64.b64decode(encoded, validate=True)))
        assert (image.format, image.size, image.mode) == ("PNG", (8, 8), "L")
    assert answer == expected_answer(in_process, sample)


def test_model_description_shows_the_settings_from_model_config(server):
    settings = yaml.safe_load((ROOT / "model-config" / "digits_gan.yaml").read_text())
    [description] = server.describe("digits_gan")
    for key in ("batchSize", "maxBatchDelay", "minWorkers", "maxWorkers", "responseTimeout"):
        assert description[key] == settings[key], key
