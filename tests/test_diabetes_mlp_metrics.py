"""diabetes_mlp's handler metrics in-process: a KServe request refused as a whole is counted, and
answer() records its steps once, the rows a list of records puts through the model, each refusal."""

import json
from pathlib import Path

import pytest

from handlers.messages import Request
from tests.collected_metrics import Collected
from tests.in_process import handler_fixture

ROOT = Path(__file__).resolve().parent.parent
PATIENT = json.loads((ROOT / "samples" / "patient.json").read_text())
JSON = "application/json"

handler = handler_fixture("diabetes_mlp")

V2_FEATURES = {"name": "features", "shape": [1, 10], "datatype": "FP64", "data": [0.0] * 10}
BAD_ENVELOPES = [
    ({"inputs": [{**V2_FEATURES, "datatype": "INT64"}]}, "wrong_type"),
    ({"inputs": [{**V2_FEATURES, "shape": [1, 9], "data": [0.0] * 9}]}, "wrong_type"),
    ({"inputs": [{**V2_FEATURES, "name": "age"}]}, "unknown_field"),
    ({"instances": [PATIENT] * 1001}, "too_large"),
]


@pytest.mark.parametrize("body, reason", BAD_ENVELOPES, ids=[reason for _, reason in BAD_ENVELOPES])
def test_a_kserve_request_refused_as_a_whole_is_counted_too(handler, body, reason):
    # v1/v2 refusals of the envelope never reach answer(): the protocol layer counts them.
    handler.metrics = Collected()
    [answer] = handler.handle([Request(json.dumps(body).encode(), JSON)])
    assert answer.status == 400 and "error" in answer.body, answer.body
    assert handler.metrics.invalid == [reason]


def test_answer_records_each_step_once_the_rows_computed_and_each_refusal(handler):
    handler.metrics = Collected()
    answers = handler.answer([Request(json.dumps([PATIENT] * 3).encode(), JSON),
                              Request(b"{", JSON), Request(json.dumps(PATIENT).encode(), JSON),
                              Request(b"", JSON)])
    assert [answer.status for answer in answers] == [200, 400, 200, 400]
    assert [step for step, _ in handler.metrics.times] == ["preprocess", "inference", "postprocess"]
    assert all(seconds > 0 for _, seconds in handler.metrics.times)
    assert handler.metrics.batches == [4]  # rows through the model, not requests
    assert sorted(handler.metrics.invalid) == ["empty_body", "malformed_json"]

    handler.metrics = Collected()
    handler.answer([Request(b"{", JSON)])  # nothing valid: no forward pass to time
    assert [step for step, _ in handler.metrics.times] == ["preprocess"]
    assert handler.metrics.batches == [] and handler.metrics.invalid == ["malformed_json"]
