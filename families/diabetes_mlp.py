"""diabetes_mlp: test-split patients, and what the tools compare them by."""

import json
import math
import random

from handlers.diabetes_mlp import MAX_RECORDS
from handlers.messages import Request
from harness.examples import sample_body, tensor
from models.diabetes_mlp import FEATURES, TARGET
from training.diabetes_data import load_diabetes_splits

# The model computes in float64, so served answers are exact; a GPU's may differ in the one
# decimal shown.
TOLERANCE = 0.0
GPU_TOLERANCE = 0.1
# A regressor's predictions may move this much, relative, and still count as the same.
RELATIVE_TOLERANCE = 1e-3
BATCH_SETTINGS = [(1, 0, "eager"), (8, 2, "eager"), (32, 2, "eager"), (32, 10, "eager"),
                  (32, 2, "aoti")]
KEPT_FORMATS = ("aoti",)
# float64 keeps a record's answer independent of its batch; int8 would undo that.
REFUSED_FORMATS = {"int8": "float32"}
JSON = "application/json"
# Its input is ten plain numbers, the smallest model a notebook brings (tests/test_bring_model.py).
SUBJECT_OF = ("bring a model",)
# What a model brought for this family answers (tools.bring_model).
LABELS = (TARGET,)


def evaluation_splits():
    """→ the splits training makes (seed 0); a brought model is scored on their test split."""
    return load_diabetes_splits(seed=0, log=lambda line: None)


def bodies(checkpoint, size):
    """Test-split patients, one record or a list of up to 20; the bad ones hold a string or miss a field."""
    splits = load_diabetes_splits(seed=checkpoint["data"]["split"]["seed"], log=lambda line: None)
    records = [dict(zip(FEATURES, row)) for row in splits.test_x.tolist()]
    pick = random.Random(0)
    good = [(json.dumps(records[index % len(records)] if index % 4 else
                        pick.sample(records, pick.randint(2, 20))).encode(), JSON)
            for index in range(size)]
    bad = [(json.dumps({**records[0], "age": "old"}).encode(), JSON),
           (json.dumps({k: v for k, v in records[0].items() if k != "bmi"}).encode(), JSON)]
    return good, bad


def split_inputs(handler) -> list:
    """Handler → one model input per test-split patient."""
    seed = handler.checkpoint["data"]["split"]["seed"]
    rows = load_diabetes_splits(seed=seed, log=lambda _: None).test_x.split(1)
    return [row.to(handler.model_dtype) for row in rows]


def agreement(expected, got) -> str:
    """Eager and format outputs → "" when every prediction is within RELATIVE_TOLERANCE."""
    relative = ((got.double() - expected.double()).abs() / expected.double().abs()).max()
    return f"largest relative difference {float(relative):.2e}" if relative > RELATIVE_TOLERANCE else ""

V2_WRONG_SHAPE = [2, 9]  # nine features where the model reads ten


def plain_examples() -> list:
    """Two plain JSON bodies: the sample patient and a younger, leaner one."""
    patient = json.loads(sample_body("diabetes_mlp")[0])
    return [patient, {**patient, "age": 30, "bmi": 21.5}]


def v2_inputs(first, second) -> list:
    return [tensor("features", [2, 10], "FP64",
                   [[example[name] for name in FEATURES] for example in (first, second)])]


def v2_outputs(first, second) -> list:
    return [tensor("prediction", [2], "FP64", [first["prediction"], second["prediction"]])]


# For the property tests: bodies close to what the family reads, and its documented answer.

def property_payloads(make):
    """The property tests' strategies (`make`: hypothesis's st, near_misses, odd_values, …) →
    near-miss records, lists of them, and lists around the records limit."""
    st = make.st

    def patient():
        return json.loads(sample_body("diabetes_mlp")[0])  # a fresh copy each time
    record = make.near_misses(patient(), st.one_of(make.odd_values(), st.floats(-2e6, 2e6),
                                                   make.numbers(), make.json_scalars()))
    many = st.sampled_from([0, 1, MAX_RECORDS, MAX_RECORDS + 1]).map(lambda n: [patient()] * n)
    return st.one_of(record, st.lists(st.one_of(record, make.json_scalars()), max_size=4), many)


def check_answer(answer, handler):
    """A 200 answer → nothing; an assertion fails where it breaks the documented shape."""
    predictions = answer if isinstance(answer, list) else [answer]
    assert 1 <= len(predictions) <= MAX_RECORDS
    for prediction in predictions:
        assert set(prediction) == {"prediction"} and math.isfinite(prediction["prediction"])


# For the metrics tests (tests/test_metrics.py): refusals and the reasons they are counted under.

def refusal_reasons() -> list:
    """→ [(bad request, the reason its refusal is counted under)]."""
    patient = json.loads(sample_body("diabetes_mlp")[0])
    return [
        (Request(b"[]", JSON), "empty_body"),
        (Request(json.dumps({**patient, "age": "old"}).encode(), JSON), "wrong_type"),
        (Request(json.dumps({**patient, "bmi": 1e300}).encode(), JSON), "out_of_range"),
        (Request(json.dumps([patient] * 1001).encode(), JSON), "too_large"),
    ]


def metered_requests() -> list:
    """→ [(body, content type, rows a valid one holds, reason a bad one is refused for)]: what
    the metrics test sends a real TorchServe, valid and bad requests mixed."""
    patient = json.loads(sample_body("diabetes_mlp")[0])
    return [(json.dumps(patient).encode(), JSON, 1, None),
            (json.dumps([patient] * 3).encode(), JSON, 3, None),
            (b"[]", JSON, 0, "empty_body"),
            (json.dumps({**patient, "age": "old"}).encode(), JSON, 0, "wrong_type")]


# For the bad-input tests (tests/test_bad_input.py): the field odd values are written into, how
# this family answers the cases every family gets (blanks in braces filled by the test), and the
# cases only it gets.
BAD_INPUT_FIELD = "bp"
BAD_INPUT_ANSWERS = {
    "JSON body that is {kind}": (400, "JSON body must be a record or a list of records, not {kind}"),
    "JSON body that is an array": (400, "record 0 must be an object, not a number"),
    "missing fields": (400, "JSON body is missing field(s): age, sex, bmi, bp, s1 and 5 more"),
    "field that is {kind}": (400, 'field "bp" must be a number, not {kind}'),
    "field that is {literal}": (400, 'field "bp" is {what}; send a finite number'),
    "a 5,000,000-character field": (400, 'field "bp" must be a number, not a string'),
}


def bad_inputs() -> dict:
    """→ {case: (body, content type, status, message)}: bodies that are no JSON, records with a
    field missing, unknown, of the wrong type or beyond the limits, lists of them."""
    patient = json.loads(sample_body("diabetes_mlp")[0])
    cases = {name: (body, JSON, 400, message) for name, body, message in [
        ("a form-like body", b"age=59, sex=2", "malformed JSON"),
        ("JSON cut after a key", b'{"age": 59, "sex"', "malformed JSON"),
        ("JSON nested 50,000 deep", b"[" * 50_000 + b"]" * 50_000, "nested too deeply")]}
    for name, body, message in [
            ("1,001 records", [patient] * 1001,
             "list holds 1,001 records; the limit is 1,000 per request"),
            ("an empty list", [], "empty list: send from 1 to 1,000 records"),
            ("a bad record in a list", [patient, {**patient, "bmi": "high"}],
             'record 1: field "bmi" must be a number, not a string'),
            ("a record with a null in a list", [patient, {**patient, "age": None}],
             'record 1: field "age" must be a number, not null'),
            ("a value beyond 1,000,000", {**patient, "s1": 1e7}, 'field "s1" is beyond ±1,000,000'),
            ("a record without s6", {k: v for k, v in patient.items() if k != "s6"},
             "is missing field(s): s6"),
            ("a height field", {**patient, "height": 180}, "has unknown field(s): height"),
            ("bmi as a string", {**patient, "bmi": "32.1"},
             'field "bmi" must be a number, not a string'),
            ("sex as a boolean", {**patient, "sex": True},
             'field "sex" must be a number, not a boolean'),
            ("s1 infinite", {**patient, "s1": float("inf")}, 'field "s1" is infinite')]:
        cases[name] = (json.dumps(body).encode(), JSON, 400, message)
    return cases


def good_requests() -> list:
    """→ eight different good requests, (body, content type): the sample patient, older and
    heavier each time."""
    patient = json.loads(sample_body("diabetes_mlp")[0])
    return [(json.dumps({**patient, "age": 30 + 5 * i, "bmi": 20.0 + i}).encode(), JSON)
            for i in range(8)]
