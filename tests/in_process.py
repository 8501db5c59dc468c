"""A family's TorchServe entry point run in this process, driven with TorchServe's own Context objects."""

import functools
import importlib
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from ts.context import Context, RequestProcessor

from handlers import handler_class
from handlers.messages import Request
from handlers.torchserve_handler import TorchServeHandler
from harness.examples import tolerance
from harness.load import difference
from harness.settings import worker_threads

ROOT = Path(__file__).resolve().parent.parent


class InProcessHandler:
    """The adapter TorchServe's worker would build for `family`, over a model dir holding its checkpoint."""

    def __init__(self, family, checkpoint_dir, tmp_path_factory):
        self.family = family
        self.model_dir = tmp_path_factory.mktemp(f"{family}_model_dir")
        shutil.copy(Path(checkpoint_dir) / family / "model.pt", self.model_dir / "model.pt")
        self.settings = yaml.safe_load((ROOT / "model-config" / f"{family}.yaml").read_text())
        self.adapter = TorchServeHandler()
        self.adapter.initialize(self.context([]))

    @property
    def handler(self):
        """The family's ModelHandler inside the adapter."""
        return self.adapter.handler

    def context(self, rows):
        """A TorchServe Context for a batch of rows, as the worker builds it.

        A row's "_content_types" entry ({field: content type}) becomes the
        per-field headers TorchServe records, a row's "_headers" entry ({name: value})
        request headers such as {"explain": "True"}; both are removed from the row.
        """
        manifest = {"model": {"modelName": self.family, "serializedFile": "model.pt",
                              "handler": "torchserve_handler.py"}}
        context = Context(self.family, str(self.model_dir), manifest, self.settings["batchSize"],
                          None, "0.12.0", model_yaml_config=self.settings)
        context.request_processor = [
            RequestProcessor({**row.pop("_headers", {}),
                              **{name: {"content-type": content_type}
                                 for name, content_type in row.pop("_content_types", {}).items()}})
            for row in rows
        ]
        return context

    def run(self, rows):
        """Rows → [(status, decoded JSON body)] through handle(), as TorchServe would call it."""
        rows = [dict(row) for row in rows]  # context() takes "_content_types" and "_headers" out
        context = self.context(rows)
        bodies = self.adapter.handle(rows, context)
        assert len(bodies) == len(rows)
        results = []
        for index, body in enumerate(bodies):
            status, _ = context.get_response_status(index)
            assert context.get_response_content_type(index) == "application/json"
            results.append((status, json.loads(body)))
        return results


def assert_same_answers(served, expected, family):
    """Served answers equal the in-process ones, numbers within the family's TOLERANCE: a
    float32 model may round a probability's last decimal otherwise when a request shares its
    batch with others (0.6139 for 0.6140)."""
    assert len(served) == len(expected)
    for index, (got, want) in enumerate(zip(served, expected)):
        found = difference(want, got, tolerance(family), f"answer {index}")
        assert not found, found


@functools.lru_cache(maxsize=None)
def reference_handler(checkpoint_dir, family):
    """The family's ModelHandler over the checkpoint under test, built once per test run."""
    return handler_class(family).from_checkpoint_file(Path(checkpoint_dir) / family / "model.pt")


def expected_answers(checkpoint_dir, family, bodies, content_type=None) -> list:
    """Request bodies → the JSON bodies the same checkpoint answers in this process, one at a time.

    Plumbing tests compare served answers with these rather than with a label
    they expect: a model trained on another CPU may read a borderline picture
    otherwise, and the plumbing must still carry its answer unchanged.
    """
    handler = reference_handler(Path(checkpoint_dir), family)
    return [handler.handle([Request(body, content_type)])[0].body for body in bodies]


def assert_answers_unchanged(family, checkpoint_dir, requests, batch_size):
    """Requests → nothing; an assertion fails where the family's handler answers one of them
    (status and JSON body) otherwise than its handler as it was before issue 15
    (bench/handlers_before/<family>.py), the requests sent in batches of `batch_size`."""
    torch.set_num_threads(worker_threads(family))  # as its worker runs (conftest puts it back)
    path = Path(checkpoint_dir) / family / "model.pt"
    handler = handler_class(family).from_checkpoint_file(path)
    before = importlib.import_module(f"bench.handlers_before.{family}").HANDLER.from_checkpoint_file(path)
    for start in range(0, len(requests), batch_size):
        batch = requests[start:start + batch_size]
        for request, answer, expected in zip(batch, handler.handle(batch), before.handle(batch)):
            assert (answer.status, answer.body) == (expected.status, expected.body), request


def handler_fixture(family):
    """Family → a module fixture: its handler over the checkpoint under test, in this process,
    whose answers the served ones must equal."""
    @pytest.fixture(scope="module")
    def in_process(checkpoint_dir):
        return handler_class(family).from_checkpoint_file(Path(checkpoint_dir) / family / "model.pt")
    return in_process
