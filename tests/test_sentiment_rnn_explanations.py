"""sentiment_rnn's explanations: Integrated Gradients from an all-<unk> text, in-process and on a
real TorchServe.

The property every test leans on is completeness: the attributions add up
to the explained output on the input minus the same output on the baseline.
The tests compute both ends with the model itself, never from the answer.
"""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from families.sentiment_rnn import HAND_WRITTEN
from models.sentiment_rnn import MAX_TOKENS
from models.text import PAD_ID, UNK_ID, normalize_text, tokenize
from tests.explaining import EXPLAIN, complete, post
from tests.in_process import InProcessHandler, assert_same_answers, expected_answers

ROOT = Path(__file__).resolve().parent.parent
REVIEW = (ROOT / "samples" / "review.txt").read_text()
# Short words and symbols, so that 256 tokens fit the 1,000-character limit.
LONG_REVIEW = ("The case is ok , but the fan is so loud and it got hot ! I do n't like it . "
               "Yet the box was fine , the kit had all the bits , and it was on time . ") * 6 \
    + "The case is ok , but the fan is so loud and it got hot ! I do n't like it ."


def review_difference(handler, text, label):
    """Review text and the answered label → that label's log-odds on the text minus on the
    all-<unk> text of the same length."""
    ids, lengths = handler.preprocess(text)
    sign = 1.0 if label == handler.labels[1] else -1.0
    with torch.no_grad():
        return sign * float(handler.model(ids, lengths)[0]
                            - handler.model(torch.full_like(ids, UNK_ID), lengths)[0])


def token_total(answer):
    return sum(entry["attribution"] for entry in answer["tokens"])


@pytest.fixture(scope="module")
def sentiment(checkpoint_dir, tmp_path_factory):
    return InProcessHandler("sentiment_rnn", checkpoint_dir, tmp_path_factory)


# In-process, through the TorchServe adapter with TorchServe's own Context.

# The long review's attributions take seconds (one forward pass per token).
@pytest.mark.parametrize("text", [REVIEW, pytest.param(LONG_REVIEW, marks=pytest.mark.slow)]
                         + [text for text, _ in HAND_WRITTEN[:8]],
                         ids=["sample", "long"] + [f"hand_written_{i}" for i in range(8)])
def test_review_explanation_is_the_prediction_plus_complete_token_attributions(sentiment, text):
    [(status, prediction), (explained_status, explained)] = sentiment.run([
        {"body": text, "_content_types": {"body": "text/plain"}},
        {"body": text, "_content_types": {"body": "text/plain"}, "_headers": EXPLAIN}])
    assert status == explained_status == 200
    assert {key: explained[key] for key in prediction} == prediction
    tokens = tokenize(normalize_text(text))[:MAX_TOKENS]
    assert [entry["token"] for entry in explained["tokens"]] == tokens
    handler = sentiment.handler
    assert [entry["known"] for entry in explained["tokens"]] == [
        token in handler.model.token_ids for token in tokens]
    difference = review_difference(handler, text, explained["label"])
    assert complete(token_total(explained), difference)
    assert explained["logit"] - explained["baseline_logit"] == pytest.approx(difference, abs=1e-4)


def test_a_token_read_as_unk_is_the_baselines_and_moves_nothing(sentiment):
    handler = sentiment.handler
    text = "The staff were friendly and the zzyzx room was spotless."
    ids, lengths = handler.preprocess(text)
    # Every real token, even one the vocabulary lacks, reads through its n-grams.
    unknown = tokenize(normalize_text(text)).index("zzyzx")
    assert not handler.model.token_ids.get("zzyzx") and (ids[0, unknown] != PAD_ID).sum() > 1
    as_unk = ids.clone()
    as_unk[0, unknown] = PAD_ID
    as_unk[0, unknown, 0] = UNK_ID
    answer = handler.explain(text, (as_unk, lengths))
    assert answer["tokens"][unknown] == {"token": "zzyzx", "known": False, "attribution": 0.0}
    assert sum(abs(entry["attribution"]) for entry in answer["tokens"]) > 0


def test_the_long_review_fills_the_token_limit(sentiment):
    assert len(LONG_REVIEW) <= 1000
    assert len(sentiment.handler.preprocess(LONG_REVIEW)[0][0]) == MAX_TOKENS


def test_negative_answers_explain_the_negative_label(sentiment):
    text = "The hotel room was dirty and the staff were rude."
    [(status, explained)] = sentiment.run([{"body": text, "_headers": EXPLAIN}])
    assert status == 200 and explained["label"] == "negative"
    ids, lengths = sentiment.handler.preprocess(text)
    with torch.no_grad():
        positive_logit = float(sentiment.handler.model(ids, lengths)[0])
    # The explained output is the answered label's log-odds: minus the positive logit.
    assert explained["logit"] == pytest.approx(-positive_logit, abs=1e-4)


def test_bad_input_is_still_a_400_and_a_batch_of_both_kinds_answers_each(sentiment):
    results = sentiment.run([{"body": "   ", "_headers": EXPLAIN}, {"body": REVIEW}])
    assert [status for status, _ in results] == [400, 200]
    assert results[0][1]["type"] == "InvalidInput"


# On a real TorchServe: /explanations/sentiment_rnn reaches explain().

def test_served_review_explanation(server, sentiment):
    for text in (REVIEW, LONG_REVIEW):
        response = post(server, "explanations", "sentiment_rnn", text.encode(), "text/plain")
        assert response.status_code == 200, response.text
        answer = response.json()
        assert [entry["token"] for entry in answer["tokens"]] == tokenize(normalize_text(text))[:MAX_TOKENS]
        assert complete(token_total(answer), review_difference(sentiment.handler, text, answer["label"]))
    response = post(server, "explanations", "sentiment_rnn", json.dumps({"text": REVIEW}),
                    "application/json")
    assert response.status_code == 200 and response.json()["label"] == "positive"


@pytest.mark.parametrize("body, content_type, message", [
    (b"", "text/plain", "empty request body"),
    (b'{"txt": "good"}', "application/json", "missing field(s): text"),
])
def test_served_bad_input_to_explanations_is_a_400(server, body, content_type, message):
    response = post(server, "explanations", "sentiment_rnn", body, content_type)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_concurrent_predictions_and_explanations_each_get_their_own_answer(server, checkpoint_dir):
    pids = server.worker_pids("sentiment_rnn")
    texts = [text for text, _ in HAND_WRITTEN]
    calls = [("explanations" if index % 2 else "predictions", text)
             for index, text in enumerate(texts * 2)]
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        responses = list(pool.map(
            lambda call: post(server, call[0], "sentiment_rnn", call[1].encode(), "text/plain"),
            calls))
    assert [response.status_code for response in responses] == [200] * len(calls)
    # The same checkpoint in this process: each answer is its own text's, whatever the model reads.
    expected = dict(zip(texts, expected_answers(checkpoint_dir, "sentiment_rnn", texts, "text/plain")))
    for (endpoint, text), response in zip(calls, responses):
        answer = response.json()
        assert_same_answers([{key: answer[key] for key in expected[text]}], [expected[text]],
                            "sentiment_rnn")
        assert ("tokens" in answer) == (endpoint == "explanations")
    assert server.worker_pids("sentiment_rnn") == pids  # no worker died or restarted


def test_many_slow_explanations_at_once_never_kill_the_worker(server):
    # Each needs every doubling of the steps on 256 tokens: seconds apiece, and
    # together far past the 30 s responseTimeout if one batch computed them all.
    slowest = ("! " * 300).encode()
    pids = server.worker_pids("sentiment_rnn")
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(
            lambda _: post(server, "explanations", "sentiment_rnn", slowest, "text/plain"), range(8)))
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {200, 503} and 200 in statuses, statuses
    assert all(response.json()["type"] == "Busy" for response in responses
               if response.status_code == 503)
    assert server.worker_pids("sentiment_rnn") == pids
