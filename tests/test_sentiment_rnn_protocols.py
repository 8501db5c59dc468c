"""sentiment_rnn in KServe's v1 protocol, in process: bad instances refused by number, only exact
envelopes read as envelopes, explanations in v1 and none in v2."""

import json

import pytest

from handlers import handler_class
from handlers.messages import Request
from handlers.protocols import PLAIN, V1, V2, open_envelope
from tests.protocol_bodies import handle, v2_body
from tests.under_test import MODELS


@pytest.fixture(scope="module")
def handler(checkpoint_dir):
    path = checkpoint_dir / "sentiment_rnn" / "model.pt"
    return handler_class("sentiment_rnn").from_checkpoint_file(path)


V1_REFUSALS = [  # (sentiment_rnn body, the message it must start with)
    ({"instances": "good"}, '"instances" must be a list, not a string'),
    ({"instances": []}, '"instances" is empty; send from 1 to 1,000 examples'),
    ({"instances": ["good", 5]}, "instance 1: JSON body must be an object like"),
    ({"instances": ["good", {"b64": "%%"}]}, 'instance 1: "b64" is not valid base64'),
    ({"instances": ["good", " "]}, "instance 1: text is empty or only white space"),
]


@pytest.mark.skipif("sentiment_rnn" not in MODELS, reason="TEST_MODELS leaves out sentiment_rnn")
@pytest.mark.parametrize("body,message", V1_REFUSALS)
def test_a_bad_v1_request_is_a_400_naming_the_instance(handler, body, message):
    [(status, answer)] = handle(handler, body)
    assert status == 400
    assert set(answer) == {"error"} and answer["error"].startswith(message), answer


@pytest.mark.skipif("sentiment_rnn" not in MODELS, reason="TEST_MODELS leaves out sentiment_rnn")
def test_only_json_bodies_with_exactly_the_envelope_keys_are_envelopes(handler):
    envelope = json.dumps({"instances": ["good"]}).encode()
    kinds = {
        (envelope, "application/json"): V1,
        (envelope, None): V1,  # JSON by its first character, as the families read it
        (envelope, "text/plain"): PLAIN,  # text is the review, whatever it looks like
        (json.dumps({"instances": ["good"], "text": "x"}).encode(), "application/json"): PLAIN,
        (json.dumps({"inputs": [], "id": "1", "parameters": {}}).encode(), "application/json"): V2,
        (b'{"instances": [', "application/json"): PLAIN,  # malformed: the family names it
    }
    for (body, content_type), protocol in kinds.items():
        assert open_envelope(Request(body, content_type), handler).protocol == protocol, body
    # A review that looks like an envelope is still a review when sent as text.
    [(status, answer)] = handle(handler, (envelope, "text/plain"))
    assert status == 200 and set(answer) == {"label", "probability"}
    [(status, answer)] = handle(handler, (b'{"instances": [', "application/json"))
    assert status == 400 and answer["message"].startswith("malformed JSON")


@pytest.mark.skipif("sentiment_rnn" not in MODELS, reason="TEST_MODELS leaves out sentiment_rnn")
def test_v1_explanations_come_as_a_list_and_v2_has_none(handler):
    v1 = json.dumps({"instances": ["great camera", "awful"]}).encode()
    v2 = json.dumps(v2_body("sentiment_rnn")).encode()
    (v1_status, explained), (v2_status, refused) = [
        (answer.status, answer.body) for answer in handler.handle(
            [Request(v1, "application/json", explain=True),
             Request(v2, "application/json", explain=True)])]
    assert v1_status == 200 and len(explained["explanations"]) == 2
    assert [e["label"] for e in explained["explanations"]] == ["positive", "negative"]
    assert (v2_status, refused) == (400, {"error": "the v2 protocol has no explanations; send a "
                                                   "plain or v1 body"})
