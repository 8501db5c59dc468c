"""diabetes_mlp on a real TorchServe: parity with the checkpoint, the sample, settings, good and bad
records at once. Each bad input alone: tests/test_bad_input.py, with the cases of
families/diabetes_mlp.py."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from handlers.messages import Request
from models.checkpoint import load_checkpoint
from models.diabetes_mlp import FEATURES
from tests.calls import post
from tests.in_process import handler_fixture
from training.diabetes_data import load_diabetes_splits

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "patient.json"
JSON = {"Content-Type": "application/json"}


def predict(server, body, headers=JSON):
    """POST a body (bytes, or a value sent as JSON) to /predictions/diabetes_mlp."""
    return post(server, "diabetes_mlp", body, None, headers=headers)


in_process = handler_fixture("diabetes_mlp")


@pytest.fixture(scope="module")
def test_records(checkpoint_dir):
    """The checkpoint's test split as JSON records, as a client would send them."""
    checkpoint = load_checkpoint(checkpoint_dir / "diabetes_mlp" / "model.pt")
    splits = load_diabetes_splits(seed=checkpoint["data"]["split"]["seed"], log=lambda line: None)
    return [dict(zip(FEATURES, row)) for row in splits.test_x.tolist()]


def test_served_answers_equal_the_in_process_answers(server, in_process, test_records):
    expected = [answer.body for answer in in_process.handle([Request(r) for r in test_records])]
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda record: predict(server, record), test_records))
    assert [r.status_code for r in responses] == [200] * len(test_records)
    assert [r.json() for r in responses] == expected

    as_list = predict(server, test_records)
    assert as_list.status_code == 200
    assert as_list.json() == expected == in_process.handle([Request(test_records)])[0].body


def test_the_sample_answers_as_in_process(server, in_process):
    served = predict(server, SAMPLE.read_bytes())
    assert served.status_code == 200
    answer = served.json()
    assert list(answer) == ["prediction"] and isinstance(answer["prediction"], float)
    assert answer == in_process.handle([Request(json.loads(SAMPLE.read_text()))])[0].body


def test_model_description_shows_the_batch_settings_from_model_config(server):
    [description] = server.describe("diabetes_mlp")
    assert (description["batchSize"], description["maxBatchDelay"]) == (32, 2)
    assert (description["minWorkers"], description["maxWorkers"]) == (1, 2)
    assert description["responseTimeout"] == 30


def test_concurrent_good_and_bad_requests_each_get_their_own_answer(server, in_process,
                                                                    test_records):
    cases = []
    for index, record in enumerate(test_records[:16]):
        cases.append((record, 200, in_process.handle([Request(record)])[0].body))
        cases.append(({**record, FEATURES[index % 10]: "x"}, 400, FEATURES[index % 10]))
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(lambda case: predict(server, case[0]), cases))
    for (_, status, expected), response in zip(cases, responses):
        assert response.status_code == status
        if status == 200:
            assert response.json() == expected
        else:
            assert f'field "{expected}"' in response.json()["message"]
