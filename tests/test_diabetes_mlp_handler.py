"""The diabetes_mlp handler in-process, through the TorchServe adapter and TorchServe's own context objects."""

import json
import math
from pathlib import Path

import pytest
import torch

from handlers.diabetes_mlp import (DECIMALS, MAX_MAGNITUDE, MAX_RECORDS, DiabetesMLPHandler,
                                   record_values)
from handlers.messages import InvalidInput, Request
from models.checkpoint import build_model, load_checkpoint
from models.diabetes_mlp import FEATURES
from tests.in_process import InProcessHandler

ROOT = Path(__file__).resolve().parent.parent
RECORD = json.loads((ROOT / "samples" / "patient.json").read_text())
OLDER = {**RECORD, "age": 72, "bmi": 35.0, "s5": 5.5}
YOUNGER = {**RECORD, "age": 25, "bmi": 21.0, "s5": 4.0}
JSON_TYPE = {"body": "application/json"}


@pytest.fixture(scope="module")
def served(checkpoint_dir, tmp_path_factory):
    return InProcessHandler("diabetes_mlp", checkpoint_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def model(served):
    return build_model(load_checkpoint(served.model_dir / "model.pt"))


def expected(model, *records) -> list:
    """Records → the checkpoint's own predictions, each matching the handler's rounded answer.

    Matched within rounding, not exactly: the checkpoint's model computes in
    float32 here and the handler in float64.
    """
    features = torch.tensor([[float(r[name]) for name in FEATURES] for r in records])
    with torch.inference_mode():
        return [pytest.approx(float(p), rel=1e-5, abs=0.5 * 10 ** -DECIMALS + 1e-3)
                for p in model(features)]


def test_initialize_uses_one_torch_thread_on_the_cpu(served):
    assert served.adapter.initialized
    assert served.handler.device == torch.device("cpu")
    assert not served.handler.model.training
    assert torch.get_num_threads() == 1  # model-config: handler.torch_threads


def test_one_record_answers_its_prediction_rounded(served, model):
    [(status, answer)] = served.run([{"body": RECORD, "_content_types": JSON_TYPE}])
    assert status == 200
    assert answer == {"prediction": expected(model, RECORD)[0]}
    assert answer["prediction"] == round(answer["prediction"], DECIMALS)
    assert 25 <= answer["prediction"] <= 346  # the data set's target range, for this typical patient


def test_a_list_answers_a_list_in_the_same_order(served, model):
    records = [OLDER, RECORD, YOUNGER]
    [(status, answer)] = served.run([{"body": records}])
    assert status == 200
    assert answer == [{"prediction": p} for p in expected(model, *records)]
    assert answer[0]["prediction"] > answer[2]["prediction"] + 20  # older, heavier, higher ltg
    [(_, reversed_answer)] = served.run([{"body": records[::-1]}])
    assert reversed_answer == answer[::-1]
    [(_, one_in_a_list)] = served.run([{"body": [RECORD]}])
    assert one_in_a_list == [answer[1]]


def test_every_body_form_gives_the_same_answer(served):
    text = json.dumps(RECORD)
    rows = [
        {"body": RECORD, "_content_types": JSON_TYPE},  # decoded by TorchServe
        {"body": text.encode()},  # JSON that TorchServe did not decode
        {"body": text.encode(), "_content_types": {"body": "application/json; charset=utf-8"}},
        {"body": text, "_content_types": {"body": "text/plain"}},
        {"data": text.encode()},  # multipart field named data
        {"body": dict(reversed(list(RECORD.items())))},  # field order does not matter
        {"body": {**RECORD, "age": 59.0}},  # 59 and 59.0 are the same number
    ]
    results = served.run(rows)
    assert {status for status, _ in results} == {200}
    assert all(answer == results[0][1] for _, answer in results)


def without(field):
    return {k: v for k, v in RECORD.items() if k != field}


BAD_INPUTS = {
    "empty body": ({"body": b""}, "empty request body"),
    "no body at all": ({}, "empty request body"),
    "not JSON": ({"body": b"age=59&sex=2"}, "malformed JSON"),
    "broken JSON": ({"body": b'{"age": 59,', "_content_types": JSON_TYPE}, "malformed JSON"),
    "not UTF-8": ({"body": b'{"age": "\xff"}'}, "not valid UTF-8"),
    "deeply nested": ({"body": b"[" * 100_000}, "nested too deeply"),
    "huge integer literal": ({"body": b'{"age": ' + b"9" * 5000 + b"}"}, "malformed JSON"),
    "JSON string": ({"body": "hello", "_content_types": JSON_TYPE}, "not a string"),
    "JSON null": ({"body": None, "_content_types": JSON_TYPE}, "not null"),
    "JSON number": ({"body": 42}, "must be a record or a list of records, not a number"),
    "JSON boolean": ({"body": True}, "not a boolean"),
    "empty list": ({"body": []}, "empty list"),
    "too many records": ({"body": [RECORD] * (MAX_RECORDS + 1)},
                         f"list holds 1,001 records; the limit is {MAX_RECORDS:,}"),
    "missing field": ({"body": without("bmi")}, "is missing field(s): bmi"),
    "unknown field": ({"body": {**RECORD, "weight": 80}}, "has unknown field(s): weight"),
    "misspelt field": ({"body": {**without("s5"), "S5": 4.8}},
                       "is missing field(s): s5 and has unknown field(s): S5"),
    "string value": ({"body": {**RECORD, "age": "59"}}, 'field "age" must be a number, not a string'),
    "boolean value": ({"body": {**RECORD, "sex": False}}, 'field "sex" must be a number, not a boolean'),
    "null value": ({"body": {**RECORD, "bp": None}}, 'field "bp" must be a number, not null'),
    "object value": ({"body": {**RECORD, "s1": {"mg/dL": 157}}},
                     'field "s1" must be a number, not an object'),
    "array value": ({"body": {**RECORD, "s2": [93.2]}}, 'field "s2" must be a number, not an array'),
    "NaN literal": ({"body": b'{"age": 59, "sex": 2, "bmi": NaN, "bp": 101, "s1": 157, "s2": 93.2, '
                             b'"s3": 38, "s4": 4, "s5": 4.8598, "s6": 87}'}, 'field "bmi" is NaN'),
    "NaN decoded": ({"body": {**RECORD, "s3": float("nan")}}, 'field "s3" is NaN'),
    "Infinity": ({"body": {**RECORD, "s4": float("inf")}}, 'field "s4" is infinite'),
    "-Infinity literal": ({"body": json.dumps({**RECORD, "s6": float("-inf")}).encode()},
                          'field "s6" is infinite'),
    "1e400 (infinite as a float)": ({"body": json.dumps(RECORD).replace("87", "1e400").encode()},
                                    'field "s6" is infinite'),
    "beyond the limit": ({"body": {**RECORD, "s1": MAX_MAGNITUDE * 10}}, 'field "s1" is beyond'),
    "bad record in a list": ({"body": [RECORD, RECORD, {**RECORD, "bmi": "high"}]},
                             'record 2: field "bmi" must be a number'),
    "missing field in a list": ({"body": [without("age"), RECORD]}, "record 0 is missing field(s): age"),
    "non-record in a list": ({"body": [RECORD, 5]}, "record 1 must be an object"),
    "null in a list": ({"body": [RECORD, None]}, "record 1 must be an object"),
    "list of lists": ({"body": [[59, 2, 32.1, 101, 157, 93.2, 38, 4, 4.8598, 87]]},
                      "record 0 must be an object"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_answers_400_naming_the_problem(served, case):
    row, message = BAD_INPUTS[case]
    [(status, answer)] = served.run([row])
    assert status == 400
    assert answer["code"] == 400 and answer["type"] == "InvalidInput"
    assert message in answer["message"]


def test_values_outside_the_data_are_answered_not_refused(served, model):
    odd = [{**RECORD, "age": 120, "bmi": 80.0}, {**RECORD, "s1": MAX_MAGNITUDE},
           {name: -MAX_MAGNITUDE for name in FEATURES}]
    [(status, answer)] = served.run([{"body": odd}])
    assert status == 200
    assert answer == [{"prediction": p} for p in expected(model, *odd)]
    assert all(abs(a["prediction"]) < 1e30 for a in answer)  # finite, valid JSON


def test_exactly_the_maximum_number_of_records_is_accepted(served, model):
    [(status, answer)] = served.run([{"body": [RECORD] * MAX_RECORDS}])
    assert status == 200 and len(answer) == MAX_RECORDS
    assert answer[0] == answer[-1] == {"prediction": expected(model, RECORD)[0]}


def test_bad_requests_in_a_batch_do_not_fail_the_good_ones(served, model):
    rows = [{"body": OLDER}, {"body": b"not json"}, {"body": [YOUNGER, RECORD]},
            {"body": {**RECORD, "age": None}}, {"body": []}, {"body": RECORD},
            {"body": [RECORD, {**RECORD, "s2": "x"}]}, {"body": YOUNGER}]
    results = served.run(rows)
    assert [status for status, _ in results] == [200, 400, 200, 400, 400, 200, 400, 200]
    older, younger, record = expected(model, OLDER, YOUNGER, RECORD)
    assert results[0][1] == {"prediction": older}
    assert results[2][1] == [{"prediction": younger}, {"prediction": record}]
    assert results[5][1] == {"prediction": record}
    assert results[7][1] == {"prediction": younger}
    assert "record 1" in results[6][1]["message"]


def test_a_batch_gives_the_same_answers_as_one_by_one(checkpoint_dir):
    handler = DiabetesMLPHandler.from_checkpoint_file(checkpoint_dir / "diabetes_mlp" / "model.pt")
    requests = [Request(RECORD), Request([OLDER, YOUNGER]), Request(YOUNGER), Request([RECORD] * 3)]
    together = [answer.body for answer in handler.handle(requests)]
    alone = [handler.handle([request])[0].body for request in requests]
    assert together == alone


def test_record_values_follow_the_feature_order():
    assert record_values(RECORD) == [float(RECORD[name]) for name in FEATURES]
    shuffled = dict(reversed(list(RECORD.items())))
    assert record_values(shuffled) == record_values(RECORD)


@pytest.mark.parametrize("record, message", [
    ({k: v for k, v in RECORD.items() if k != "bmi"}, "is missing field(s): bmi"),
    ({**RECORD, "weight": 80}, "has unknown field(s): weight"),
    ({**{k: v for k, v in RECORD.items() if k != "bmi"}, "BMI": 32},
     "is missing field(s): bmi and has unknown field(s): BMI"),
    ({**RECORD, "age": "59"}, 'field "age" must be a number, not a string'),
    ({**RECORD, "sex": True}, 'field "sex" must be a number, not a boolean'),
    ({**RECORD, "bp": None}, 'field "bp" must be a number, not null'),
    ({**RECORD, "s1": {"value": 1}}, 'field "s1" must be a number, not an object'),
    ({**RECORD, "s2": [1]}, 'field "s2" must be a number, not an array'),
    ({**RECORD, "s3": math.nan}, 'field "s3" is NaN'),
    ({**RECORD, "s4": -math.inf}, 'field "s4" is infinite'),
    ({**RECORD, "s5": 10 ** 400}, 'field "s5" is beyond ±1,000,000'),
    ([1, 2], "JSON body must be an object, not an array"),
    ({**RECORD, "x" * 10_000: 1}, "has unknown field(s): " + "x" * 40 + "… (fields: age"),
    ({**RECORD, **{f"extra{i:03d}": i for i in range(500)}},
     "has unknown field(s): extra000, extra001, extra002, extra003, extra004 and 495 more"),
])
def test_record_values_names_the_bad_field(record, message):
    with pytest.raises(InvalidInput) as error:
        record_values(record)
    assert message in error.value.message


def test_values_far_outside_the_data_are_accepted_up_to_the_limit():
    assert record_values({**RECORD, "age": 150, "bmi": -1})[0] == 150.0
    assert record_values({**RECORD, "s1": MAX_MAGNITUDE})[4] == MAX_MAGNITUDE
    assert record_values({**RECORD, "s1": -MAX_MAGNITUDE})[4] == -MAX_MAGNITUDE
