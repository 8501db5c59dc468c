"""sentiment_rnn's handler metrics through the TorchServe recorder, in-process, with TorchServe's
own metrics store: every line the frontend would file, under the labels metrics.yaml declares."""

import logging
import re
from pathlib import Path

import yaml
from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl

from handlers.metrics import BATCH_SIZE_METRIC, INVALID_METRIC, STEP_METRICS
from tests.in_process import InProcessHandler

ROOT = Path(__file__).resolve().parent.parent
# A worker's metric line, as TorchServe's frontend reads it from the worker's output.
METRIC_LINE = re.compile(r"\[METRICS\](\w+)\.(\w+):([-0-9.e]+)\|#([^|]*)\|#type:(\w+)\|#hostname:")
# What follows the hostname: the timestamp alone. The store's helpers would append every request
# id of the batch, which the frontend scans and Prometheus ignores.
LINE_END = re.compile(r"\|#hostname:[^,]+,\d+$")


def test_the_torchserve_store_gets_lines_the_frontend_files_under_declared_labels(
        checkpoint_dir, tmp_path_factory, caplog):
    served = InProcessHandler("sentiment_rnn", checkpoint_dir, tmp_path_factory)
    rows = [{"body": b"a fine film"}, {"body": b""}, {"body": {"text": 5}},
            {"body": b"dull and slow"}]
    context = served.context(rows)
    context.metrics = MetricsCacheYamlImpl(ROOT / "metrics.yaml")
    context.metrics.initialize_cache()
    # As TorchServe's worker does before each batch (ts/service.py).
    context.metrics.request_ids = {index: f"request-{index}" for index in range(len(rows))}
    with caplog.at_level(logging.INFO):
        bodies = served.adapter.handle(rows, context)
    assert len(bodies) == 4
    assert "Failed to update metric" not in caplog.text

    declared = {spec["name"]: [*spec["dimensions"], "Hostname"]  # the frontend adds Hostname
                for specs in yaml.safe_load((ROOT / "metrics.yaml").read_text())
                ["model_metrics"].values() for spec in specs}
    messages = [record.getMessage() for record in caplog.records]
    lines = [METRIC_LINE.search(message) for message in messages]
    assert all(LINE_END.search(message) for message, line in zip(messages, lines) if line), \
        [message for message in messages if "[METRICS]" in message][:3]
    sent = {}
    for name, unit, value, dimensions, kind in (line.groups() for line in lines if line):
        names = [pair.split(":", 1)[0] for pair in dimensions.split(",")]
        assert names + ["Hostname"] == declared[name], (name, dimensions)
        assert dict(pair.split(":", 1) for pair in dimensions.split(","))["ModelName"] == \
            "sentiment_rnn"
        sent.setdefault(name, []).append((dimensions, float(value)))
    assert set(sent) == {*STEP_METRICS.values(), BATCH_SIZE_METRIC, INVALID_METRIC}
    assert [value for _, value in sent[BATCH_SIZE_METRIC]] == [2]
    assert sorted(dims.rsplit(":", 1)[1] for dims, _ in sent[INVALID_METRIC]) == [
        "empty_body", "wrong_type"]


def test_a_metric_metrics_yaml_lacks_is_still_recorded(checkpoint_dir, tmp_path_factory, tmp_path,
                                                       caplog):
    """A user's metrics.yaml without the handler's metrics: the handler still answers, and its
    lines still carry the model's dimensions (the frontend then drops the names it lacks)."""
    served = InProcessHandler("sentiment_rnn", checkpoint_dir, tmp_path_factory)
    rows = [{"body": b"a fine film"}, {"body": b""}]
    context = served.context(rows)
    bare = tmp_path / "metrics.yaml"
    bare.write_text(yaml.safe_dump({"dimensions": ["ModelName", "Level"],
                                    "model_metrics": {"gauge": [
                                        {"name": "PredictionTime", "unit": "ms",
                                         "dimensions": ["ModelName", "Level"]}]}}))
    context.metrics = MetricsCacheYamlImpl(bare)
    context.metrics.initialize_cache()
    with caplog.at_level(logging.INFO):
        bodies = served.adapter.handle(rows, context)
    assert len(bodies) == 2
    sent = {line.group(1): line.group(4) for line in
            (METRIC_LINE.search(record.getMessage()) for record in caplog.records) if line}
    assert sent[BATCH_SIZE_METRIC] == "ModelName:sentiment_rnn,Level:Model"
    assert sent[INVALID_METRIC] == "ModelName:sentiment_rnn,Level:Model,Reason:empty_body"
