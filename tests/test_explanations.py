"""Explanations across families: a family whose handler gives none refuses /explanations by name,
in-process and on a real TorchServe, and still answers /predictions. Each family that explains
checks its own in tests/test_<family>_explanations.py."""

import json

import pytest

from handlers import handler_class
from handlers.base import ModelHandler
from harness.examples import sample_body
from tests.explaining import EXPLAIN, post
from tests.in_process import InProcessHandler
from tests.under_test import MODELS

# The families whose handler keeps the base's explain(), which refuses.
UNEXPLAINED = [model for model in MODELS if handler_class(model).explain is ModelHandler.explain]


@pytest.mark.parametrize("family", UNEXPLAINED)
def test_models_without_explanations_refuse_by_name(checkpoint_dir, tmp_path_factory, family):
    served = InProcessHandler(family, checkpoint_dir, tmp_path_factory)
    body, content_type = sample_body(family)
    if content_type == "application/json":
        body = json.loads(body)  # as TorchServe's worker hands a JSON body over: decoded
    [(status, answer), (prediction_status, _)] = served.run([
        {"body": body, "_content_types": {"body": content_type}, "_headers": EXPLAIN},
        {"body": body, "_content_types": {"body": content_type}}])
    assert (status, prediction_status) == (400, 200)
    assert answer["type"] == "InvalidInput" and family in answer["message"]


@pytest.mark.parametrize("model", UNEXPLAINED)
def test_served_models_without_explanations_answer_400_by_name(server, model):
    body, content_type = sample_body(model)
    response = post(server, "explanations", model, body, content_type)
    assert response.status_code == 400
    assert response.json()["type"] == "InvalidInput" and model in response.json()["message"]
    assert post(server, "predictions", model, body, content_type).status_code == 200
