"""breast_cancer's own checks, made by tools.new_family: add yours here.

The checks every family gets (bad input, batches, protocols, metrics, served answers equal to
the in-process ones, the training dry run) find breast_cancer by its files and run on it too.
"""

import json
from pathlib import Path

import pytest

from handlers import handler_class
from handlers.messages import Request

SAMPLE = Path(__file__).resolve().parent.parent / "samples/breast_cancer.json"


@pytest.fixture(scope="module")
def handler(checkpoint_dir):
    return handler_class("breast_cancer").from_checkpoint_file(checkpoint_dir / "breast_cancer" / "model.pt")


def answer(handler, body):
    [answered] = handler.handle([Request(json.dumps(body).encode(), "application/json")])
    return answered


def test_the_trained_model_beats_always_answering_the_commonest_class(breast_cancer_checkpoint):
    # Measured over five seeds (python -m training.breast_cancer --seed N, 0 to 4): test
    # accuracy 95.3% to 100% on 86 records each; asked for here with a margin of 2 points.
    metrics = breast_cancer_checkpoint["metrics"]
    assert metrics["accuracy"] > metrics["majority_class_accuracy"], metrics
    assert metrics["accuracy"] >= 0.93, metrics


def test_the_sample_is_answered_with_a_class_of_the_data(handler):
    answered = answer(handler, json.loads(SAMPLE.read_text()))
    assert answered.status == 200 and answered.body["label"] in handler.labels
    assert 1 / len(handler.labels) <= answered.body["probability"] <= 1


def test_a_record_missing_a_column_or_with_an_unknown_one_is_refused_naming_it(handler):
    record = json.loads(SAMPLE.read_text())
    first = next(iter(record))
    without = {name: value for name, value in record.items() if name != first}
    for body, words in [(without, f"missing field(s): {first}"),
                        ({**record, "no such column": 1}, "unknown field(s): no such column")]:
        answered = answer(handler, body)
        assert answered.status == 400 and words in answered.body["message"], answered.body
