"""sentiment_rnn on a real TorchServe: parity with the checkpoint in-process, the README sample, settings, bad input."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from families.sentiment_rnn import HAND_WRITTEN
from handlers.messages import Request
from harness.torchserve import HTTP_TIMEOUT, bearer
from models.sentiment_rnn import MAX_TEXT_CHARS
from tests.calls import assert_invalid_input, post
from tests.in_process import handler_fixture
from training.sentiment_data import load_sentiment_splits

ROOT = Path(__file__).resolve().parent.parent
TEXT = {"Content-Type": "text/plain"}
JSON = {"Content-Type": "application/json"}
SAMPLE = ROOT / "samples" / "review.txt"


def predict(server, body: bytes, headers=TEXT):
    return post(server, "sentiment_rnn", body, None, headers=headers)


in_process = handler_fixture("sentiment_rnn")


@pytest.fixture(scope="module")
def test_texts(in_process):
    data = in_process.checkpoint["data"]
    splits = load_sentiment_splits(ROOT / data["source"], seed=data["split"]["seed"],
                                   log=lambda line: None)
    return splits.test_texts[:60], splits.test_labels[:60]


def test_served_answers_equal_the_in_process_answers(server, in_process, test_texts):
    texts = test_texts[0] + [text for text, _ in HAND_WRITTEN]
    # One at a time on both sides, so both compute each text in a batch of one.
    expected = [in_process.handle([Request(text, "text/plain")])[0].body for text in texts]
    served = []
    for index, text in enumerate(texts):
        if index % 2:
            response = predict(server, json.dumps({"text": text}).encode(), JSON)
        else:
            response = predict(server, text.encode("utf-8"))
        assert response.status_code == 200, response.text
        served.append(response.json())
    assert served == expected
    labels = [in_process.labels[label] for label in test_texts[1]] + [label for _, label in HAND_WRITTEN]
    correct = sum(answer["label"] == label for answer, label in zip(served, labels))
    assert correct / len(labels) >= 0.9


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(server, in_process,
                                                                      test_texts):
    texts = test_texts[0][:40] + [text for text, _ in HAND_WRITTEN]
    expected = [in_process.handle([Request(text, "text/plain")])[0].body for text in texts]
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(lambda text: predict(server, text.encode("utf-8")), texts))
    assert [r.status_code for r in responses] == [200] * len(texts)
    for response, answer in zip(responses, expected):
        # Batched texts may differ from alone in the last float bits, never in label.
        assert response.json()["label"] == answer["label"]
        assert response.json()["probability"] == pytest.approx(answer["probability"], abs=1e-4)


def test_the_sample_answers_as_in_process(server, in_process):
    served = predict(server, SAMPLE.read_bytes())
    assert served.status_code == 200
    assert served.json() == in_process.handle([Request(SAMPLE.read_text(), "text/plain")])[0].body


def test_every_request_form_gets_the_same_answer(server):
    text = "I was never disappointed by this café."
    plain = predict(server, text.encode("utf-8"))
    assert plain.status_code == 200
    url, auth = f"{server.inference_url}/predictions/sentiment_rnn", bearer(server.inference_key())
    forms = {
        "no content type": requests.post(url, data=text.encode("utf-8"), headers=auth,
                                         timeout=HTTP_TIMEOUT),
        "JSON": predict(server, json.dumps({"text": text}).encode(), JSON),
        "JSON with charset": predict(server, json.dumps({"text": text}).encode(),
                                     {"Content-Type": "application/json; charset=utf-8"}),
        "multipart": requests.post(url, files={"data": ("review.txt", text.encode(), "text/plain")},
                                   headers=auth, timeout=HTTP_TIMEOUT),
    }
    for form, response in forms.items():
        assert response.status_code == 200, (form, response.text)
        assert response.json() == plain.json(), form


def test_model_description_shows_the_settings_from_model_config(server):
    [description] = server.describe("sentiment_rnn")
    assert (description["batchSize"], description["maxBatchDelay"]) == (16, 2)
    assert (description["minWorkers"], description["maxWorkers"]) == (1, 2)
    assert description["responseTimeout"] == 30


HTTP_BAD_INPUTS = {
    "empty body": (b"", TEXT, "empty request body"),
    "white space only": (b" \t\r\n ", TEXT, "text is empty or only white space"),
    "text too long": (b"x" * (MAX_TEXT_CHARS + 1), TEXT, "the limit is 1,000"),
    "invalid UTF-8": (b"caf\xe9 was great", TEXT, "body is not valid UTF-8 text"),
    "malformed JSON": (b'{"text": ', JSON, "malformed JSON"),
    "JSON without text": (b'{"review": "great"}', JSON, "is missing field(s): text"),
    "text not a string": (b'{"text": 42}', JSON, '"text" must be a string, not a number'),
    "unknown JSON field": (b'{"text": "great", "stars": 5}', JSON, "has unknown field(s): stars"),
    "JSON null": (b"null", JSON, "must be an object"),
    "JSON text too long": (json.dumps({"text": "y" * 2000}).encode(), JSON, "the limit is 1,000"),
}


@pytest.mark.parametrize("case", sorted(HTTP_BAD_INPUTS))
def test_bad_input_answers_400_and_the_next_request_succeeds(server, in_process, case):
    body, headers, expected = HTTP_BAD_INPUTS[case]
    pids_before = server.worker_pids("sentiment_rnn")
    assert_invalid_input(predict(server, body, headers), expected)

    text = "The acting was great, but the plot was terrible."
    following = predict(server, text.encode())
    assert following.status_code == 200
    assert following.json() == in_process.handle([Request(text, "text/plain")])[0].body
    assert server.worker_pids("sentiment_rnn") == pids_before
