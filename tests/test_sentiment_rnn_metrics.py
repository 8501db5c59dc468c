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


def test_the_torchserve_store_gets_lines_the_frontend_files_under_declared_labels(
        checkpoint_dir, tmp_path_factory, caplog):
    served = InProcessHandler("sentiment_rnn", checkpoint_dir, tmp_path_factory)
    rows = [{"body": b"a fine film"}, {"body": b""}, {"body": {"text": 5}},
            {"body": b"dull and slow"}]
    context = served.context(rows)
    context.metrics = MetricsCacheYamlImpl(ROOT / "metrics.yaml")
    context.metrics.initialize_cache()
    with caplog.at_level(logging.INFO):
        bodies = served.adapter.handle(rows, context)
    assert len(bodies) == 4
    assert "Failed to update metric" not in caplog.text

    declared = {spec["name"]: [*spec["dimensions"], "Hostname"]  # the frontend adds Hostname
                for specs in yaml.safe_load((ROOT / "metrics.yaml").read_text())
                ["model_metrics"].values() for spec in specs}
    lines = [METRIC_LINE.search(record.getMessage()) for record in caplog.records]
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
