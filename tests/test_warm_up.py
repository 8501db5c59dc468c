"""A worker answers one request of its own family before any client's: TorchServe's initialize runs
it through decode, preprocess, one forward pass and postprocess, and logs how long it took; a family
with no warm-up request is served cold, with a warning."""

import logging

import pytest

from handlers import handler_class
from handlers.base import ModelHandler
from handlers.messages import InvalidInput
from handlers.warm_up import warm_up
from handlers.metrics import MetricsRecorder
from tests.in_process import InProcessHandler
from tests.under_test import MODELS


class StepsSeen(MetricsRecorder):
    """Keeps what the pipeline reports: the steps timed, the batch sizes, the refusals."""

    def __init__(self):
        self.steps, self.batches, self.refusals = [], [], []

    def record_time(self, step, seconds):
        self.steps.append(step)

    def record_batch(self, rows):
        self.batches.append(rows)

    def count_invalid(self, reason):
        self.refusals.append(reason)


@pytest.mark.parametrize("family", MODELS)
def test_initialize_answers_the_familys_own_request_end_to_end(family, checkpoint_dir,
                                                                tmp_path_factory, monkeypatch,
                                                                caplog):
    seen = StepsSeen()
    # The recorder handlers start with: the adapter gives each batch its own only in handle().
    monkeypatch.setattr(ModelHandler, "metrics", seen)
    with caplog.at_level(logging.INFO, logger="handlers.torchserve_handler"):
        served = InProcessHandler(family, checkpoint_dir, tmp_path_factory)
    assert served.adapter.initialized
    assert seen.steps == ["preprocess", "inference", "postprocess"]
    assert seen.batches == [1] and seen.refusals == []
    assert f"warmed up {family} in" in caplog.text


def refuse(request):
    raise InvalidInput("refused on purpose")


def test_a_warm_up_that_is_not_answered_fails_loudly(checkpoint_dir, monkeypatch):
    family = MODELS[0]
    handler = handler_class(family).from_checkpoint_file(checkpoint_dir / family / "model.pt")
    monkeypatch.setattr(handler, "decode", refuse)
    with pytest.raises(RuntimeError, match="warm-up request was answered 400"):
        handler.warm_up()


def test_a_family_with_no_warm_up_request_is_served_cold_with_a_warning(caplog):
    class NoWarmUp(ModelHandler):
        family = "a new family"

        def __init__(self):  # no checkpoint: only warm_up is called
            pass
    log = logging.getLogger("handlers.torchserve_handler")
    with caplog.at_level(logging.WARNING, logger=log.name):
        warm_up(NoWarmUp(), log)
    assert "a new family has no warm_up_request" in caplog.text
