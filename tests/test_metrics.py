"""Handler metrics: the pipeline's step times, batch sizes and refusals by reason, in-process and in
the Prometheus text of a real TorchServe, where they must move by exactly what was sent."""

import ast
import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import yaml
from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl

from client.prometheus import by_sample
from families.digits_cnn_pictures import draw_digit, encode
from handlers import handler_class
from handlers.messages import Request
from handlers.metrics import (BATCH_SIZE_METRIC, INVALID_METRIC, REASONS, STEP_METRICS,
                              MetricsRecorder)
from harness.torchserve import HTTP_TIMEOUT
from models.sentiment_rnn import MAX_TEXT_CHARS
from tests import calls
from tests.in_process import InProcessHandler
from tests.under_test import MODELS

ROOT = Path(__file__).resolve().parent.parent
PATIENT = json.loads((ROOT / "samples" / "patient.json").read_text())
SETTLE_TIMEOUT_S = 30  # the worker's metric lines reach the frontend after the answers


class Collected(MetricsRecorder):
    """A recorder that keeps what the pipeline reports, for assertions."""

    def __init__(self):
        self.times, self.batches, self.invalid = [], [], []

    def record_time(self, step, seconds):
        self.times.append((step, seconds))

    def record_batch(self, rows):
        self.batches.append(rows)

    def count_invalid(self, reason):
        self.invalid.append(reason)


def scrape(server) -> dict:
    """A real TorchServe → its metrics endpoint, parsed; asked with no key, as Prometheus would."""
    response = requests.get(f"{server.metrics_url}/metrics", timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    return by_sample(response.text)


def total(samples, name, **labels) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
    return sum(value for found, value in samples.get(name, [])
               if all(found.get(key) == wanted for key, wanted in labels.items()))


# Reasons: a short, documented vocabulary

def reason_literals():
    """handlers/*.py → (file, line, reason) for every reason= string given to InvalidInput."""
    for path in sorted((ROOT / "handlers").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "InvalidInput":
                for keyword in node.keywords:
                    if keyword.arg == "reason":
                        for value in ast.walk(keyword.value):
                            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                                yield path.name, node.lineno, value.value
    # Reasons picked into a variable first (digits_cnn's preprocess).
    for path in sorted((ROOT / "handlers").glob("*.py")):
        for found in re.findall(r'reason = "(\w+)" if .* else "(\w+)"', path.read_text()):
            yield from ((path.name, 0, reason) for reason in found)


def test_every_reason_raised_is_a_documented_label():
    given = list(reason_literals())
    assert len(given) > 20
    unknown = [entry for entry in given if entry[2] not in REASONS]
    assert not unknown, f"add these to handlers.metrics.REASONS or fix them: {unknown}"
    assert all(re.fullmatch(r"[a-z_]+", reason) for reason in REASONS)


@pytest.fixture(scope="module")
def handlers(checkpoint_dir):
    """Family → its ModelHandler, loaded in-process, reporting to a Collected recorder."""
    loaded = {}
    for family in ("sentiment_rnn", "diabetes_mlp", "digits_cnn", "digits_gan"):
        if family in MODELS:
            loaded[family] = handler_class(family).from_checkpoint_file(
                checkpoint_dir / family / "model.pt")
    return loaded


def refusal_reason(handler, request):
    """One bad request → the reason answer() counted it under (and checks it was a 400)."""
    handler.metrics = Collected()
    [answer] = handler.answer([request])
    assert answer.status == 400, answer.body
    assert set(answer.body) == {"code", "type", "message"}  # the reason stays out of the body
    [reason] = handler.metrics.invalid
    return reason


JSON = "application/json"
BAD_REQUESTS = [
    ("sentiment_rnn", Request(b"", "text/plain"), "empty_body"),
    ("sentiment_rnn", Request(b"  \n ", "text/plain"), "empty_body"),
    ("sentiment_rnn", Request(b'{"text": 5}', JSON), "wrong_type"),
    ("sentiment_rnn", Request(b'{"text":', JSON), "malformed_json"),
    ("sentiment_rnn", Request(b'{"review": "fine"}', JSON), "missing_field"),
    ("sentiment_rnn", Request(b'{"text": "fine", "stars": 5}', JSON), "unknown_field"),
    ("sentiment_rnn", Request(b"\xff\xfe bad", "text/plain"), "undecodable"),
    ("sentiment_rnn", Request(b"a" * (MAX_TEXT_CHARS + 1), "text/plain"), "too_large"),
    ("diabetes_mlp", Request(b"[]", JSON), "empty_body"),
    ("diabetes_mlp", Request(json.dumps({**PATIENT, "age": "old"}).encode(), JSON), "wrong_type"),
    ("diabetes_mlp", Request(json.dumps({**PATIENT, "bmi": 1e300}).encode(), JSON),
     "out_of_range"),
    ("diabetes_mlp", Request(json.dumps([PATIENT] * 1001).encode(), JSON), "too_large"),
    ("digits_cnn", Request(b"no picture here", "image/png"), "unsupported_format"),
    ("digits_cnn", Request(encode(draw_digit("3"))[:200], "image/png"), "undecodable"),
    ("digits_cnn", Request(b'{"image": "***"}', JSON), "undecodable"),
    ("digits_cnn", Request(encode(draw_digit("3").point(lambda _: 255)), "image/png"),
     "blank_image"),
    ("digits_gan", Request(b'{"digit": 12}', JSON), "out_of_range"),
    ("digits_gan", Request(b'{"digit": 3}', JSON, explain=True), "not_offered"),
]


@pytest.mark.parametrize("family, request_, reason", BAD_REQUESTS,
                         ids=[f"{family}-{reason}" for family, _, reason in BAD_REQUESTS])
def test_each_refusal_is_counted_under_the_reason_that_names_it(handlers, family, request_, reason):
    if family not in handlers:
        pytest.skip(f"{family} is not in TEST_MODELS")
    assert refusal_reason(handlers[family], request_) == reason


V2_FEATURES = {"name": "features", "shape": [1, 10], "datatype": "FP64", "data": [0.0] * 10}
BAD_ENVELOPES = [
    ({"inputs": [{**V2_FEATURES, "datatype": "INT64"}]}, "wrong_type"),
    ({"inputs": [{**V2_FEATURES, "shape": [1, 9], "data": [0.0] * 9}]}, "wrong_type"),
    ({"inputs": [{**V2_FEATURES, "name": "age"}]}, "unknown_field"),
    ({"instances": [PATIENT] * 1001}, "too_large"),
]


@pytest.mark.parametrize("body, reason", BAD_ENVELOPES, ids=[reason for _, reason in BAD_ENVELOPES])
def test_a_kserve_request_refused_as_a_whole_is_counted_too(handlers, body, reason):
    # v1/v2 refusals of the envelope never reach answer(): the protocol layer counts them.
    if "diabetes_mlp" not in handlers:
        pytest.skip("diabetes_mlp is not in TEST_MODELS")
    handler = handlers["diabetes_mlp"]
    handler.metrics = Collected()
    [answer] = handler.handle([Request(json.dumps(body).encode(), JSON)])
    assert answer.status == 400 and "error" in answer.body, answer.body
    assert handler.metrics.invalid == [reason]


def test_answer_records_each_step_once_the_rows_computed_and_each_refusal(handlers):
    if "diabetes_mlp" not in handlers:
        pytest.skip("diabetes_mlp is not in TEST_MODELS")
    handler = handlers["diabetes_mlp"]
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


# The TorchServe recorder, in-process, with TorchServe's own metrics store

# A worker's metric line, as TorchServe's frontend reads it from the worker's output.
METRIC_LINE = re.compile(r"\[METRICS\](\w+)\.(\w+):([-0-9.e]+)\|#([^|]*)\|#type:(\w+)\|#hostname:")


def test_the_torchserve_store_gets_lines_the_frontend_files_under_declared_labels(
        checkpoint_dir, tmp_path_factory, caplog):
    if "sentiment_rnn" not in MODELS:
        pytest.skip("sentiment_rnn is not in TEST_MODELS")
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


def test_metrics_yaml_declares_torchservess_defaults_and_every_handler_metric():
    config = yaml.safe_load((ROOT / "metrics.yaml").read_text())
    frontend = {spec["name"] for specs in config["ts_metrics"].values() for spec in specs}
    assert {"Requests2XX", "Requests4XX", "Requests5XX", "ts_inference_requests_total",
            "ts_inference_latency_microseconds", "ts_queue_latency_microseconds", "QueueTime",
            "CPUUtilization", "MemoryUsed"} <= frontend
    model = {spec["name"]: (kind, spec["dimensions"])
             for kind, specs in config["model_metrics"].items() for spec in specs}
    for name in STEP_METRICS.values():
        assert model[name] == ("histogram", ["ModelName", "Level"])
    assert model[BATCH_SIZE_METRIC] == ("histogram", ["ModelName", "Level"])
    assert model[INVALID_METRIC] == ("counter", ["ModelName", "Level", "Reason"])


# On a real TorchServe

def post(server, model, body, content_type):
    """A request → the status it was answered with."""
    return calls.post(server, model, body, content_type).status_code


def watched(samples, plan) -> dict:
    """A scrape → the values the test compares: per model, requests, rows, batches and reasons."""
    values = {"Requests4XX": total(samples, "Requests4XX")}
    for model, sends in plan.items():
        values[model, "requests"] = total(samples, "ts_inference_requests_total",
                                          model_name=model)
        values[model, "rows"] = total(samples, f"{BATCH_SIZE_METRIC}_sum", ModelName=model)
        for name in (*STEP_METRICS.values(), BATCH_SIZE_METRIC):
            values[model, name] = total(samples, f"{name}_count", ModelName=model)
        for reason in {reason for *_, reason in sends if reason}:
            values[model, reason] = total(samples, INVALID_METRIC, ModelName=model, Reason=reason)
    return values


def settled_scrape(server, plan, before) -> dict:
    """Scrape until every model's request count has moved by what was sent and two scrapes agree
    (the worker's metric lines trail its answers); bounded by SETTLE_TIMEOUT_S."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    last = None
    while True:
        now = watched(scrape(server), plan)
        arrived = all(now[model, "requests"] - before[model, "requests"] == len(sends)
                      for model, sends in plan.items())
        if (arrived and now == last) or time.monotonic() > deadline:
            return now
        last = now
        time.sleep(0.5)


def test_counters_move_by_exactly_what_was_sent(server):
    long_text = b"a" * (MAX_TEXT_CHARS + 1)
    # (body, content type, rows a valid request holds, reason a bad one is refused for)
    plan = {
        "sentiment_rnn": [
            *[(text, "text/plain", 1, None) for text in
              (b"a fine film", b"dull and slow", b"loved it", b"not for me", b"great cast")],
            (b"", "text/plain", 0, "empty_body"), (b"   ", "text/plain", 0, "empty_body"),
            (b'{"text": 5}', JSON, 0, "wrong_type"), (b'{"text":', JSON, 0, "malformed_json"),
            (long_text, "text/plain", 0, "too_large"),
        ],
        "diabetes_mlp": [
            (json.dumps(PATIENT).encode(), JSON, 1, None),
            (json.dumps([PATIENT] * 3).encode(), JSON, 3, None),
            (b"[]", JSON, 0, "empty_body"),
            (json.dumps({**PATIENT, "age": "old"}).encode(), JSON, 0, "wrong_type"),
        ],
    }
    if not set(plan) <= set(MODELS):
        pytest.skip("needs sentiment_rnn and diabetes_mlp")
    before = watched(scrape(server), plan)
    sends = [(model, *send) for model, model_sends in plan.items() for send in model_sends]
    # Sent together, so that valid and bad requests share batches.
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda send: post(server, *send[:3]), sends))
    assert statuses == [200 if reason is None else 400 for *_, reason in sends]

    after = settled_scrape(server, plan, before)
    moved = {key: after[key] - before[key] for key in after}
    assert moved["Requests4XX"] == sum(reason is not None for *_, reason in sends)
    for model, model_sends in plan.items():
        assert moved[model, "requests"] == len(model_sends)
        assert moved[model, "rows"] == sum(rows for _, _, rows, _ in model_sends)
        for reason in {reason for *_, reason in model_sends if reason}:
            assert moved[model, reason] == sum(r == reason for *_, r in model_sends), reason
        # One forward pass per batch holding a valid request: each is timed once, beside one
        # batch size; every batch is preprocessed, and no batch holds more than all that was sent.
        batches = moved[model, STEP_METRICS["inference"]]
        assert 1 <= batches <= sum(reason is None for *_, reason in model_sends)
        assert moved[model, STEP_METRICS["postprocess"]] == batches
        assert moved[model, BATCH_SIZE_METRIC] == batches
        assert batches <= moved[model, STEP_METRICS["preprocess"]] <= len(model_sends)


def test_step_times_are_histograms_in_seconds_with_every_bucket(server):
    if "sentiment_rnn" not in MODELS:
        pytest.skip("sentiment_rnn is not in TEST_MODELS")
    assert post(server, "sentiment_rnn", b"a fine film", "text/plain") == 200
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        samples = scrape(server)
        if total(samples, "handler_postprocess_seconds_count", ModelName="sentiment_rnn") or \
                time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for name in (*STEP_METRICS.values(), BATCH_SIZE_METRIC):
        count = total(samples, f"{name}_count", ModelName="sentiment_rnn")
        buckets = [(labels["le"], value) for labels, value in samples[f"{name}_bucket"]
                   if labels["ModelName"] == "sentiment_rnn"]
        assert count >= 1 and dict(buckets)["+Inf"] == count, name
        assert total(samples, f"{name}_sum", ModelName="sentiment_rnn") > 0, name
    # Seconds, not milliseconds: this small model answers well inside a second per batch.
    assert total(samples, "handler_inference_seconds_sum", ModelName="sentiment_rnn") < count


def test_metrics_endpoint_answers_without_a_key_on_loopback_only(server):
    response = requests.get(f"{server.metrics_url}/metrics", timeout=HTTP_TIMEOUT)
    assert response.status_code == 200 and "ts_inference_requests_total" in response.text
    assert server.metrics_url.startswith("http://127.0.0.1:")
    # The inference API beside it still wants its key (TorchServe refuses with a 400).
    keyless = requests.post(f"{server.inference_url}/predictions/{MODELS[0]}", data=b"{}",
                            headers={"Content-Type": JSON}, timeout=HTTP_TIMEOUT)
    assert keyless.status_code == 400 and keyless.json()["type"] == "InvalidKeyException"
