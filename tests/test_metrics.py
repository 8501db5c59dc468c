"""Handler metrics: the pipeline's step times, batch sizes and refusals by reason, in-process and in
the Prometheus text of a real TorchServe, where they must move by exactly what was sent."""

import ast
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import yaml

from client.prometheus import by_sample
from handlers import handler_class
from handlers.metrics import BATCH_SIZE_METRIC, INVALID_METRIC, REASONS, STEP_METRICS
from harness.examples import hook, sample_body, subject
from harness.torchserve import HTTP_TIMEOUT
from tests import calls
from tests.collected_metrics import Collected
from tests.under_test import MODELS

ROOT = Path(__file__).resolve().parent.parent
SETTLE_TIMEOUT_S = 30  # the worker's metric lines reach the frontend after the answers


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
    return {family: handler_class(family).from_checkpoint_file(checkpoint_dir / family / "model.pt")
            for family in MODELS}


def refusal_reason(handler, request):
    """One bad request → the reason answer() counted it under (and checks it was a 400)."""
    handler.metrics = Collected()
    [answer] = handler.answer([request])
    assert answer.status == 400, answer.body
    assert set(answer.body) == {"code", "type", "message"}  # the reason stays out of the body
    [reason] = handler.metrics.invalid
    return reason


JSON = "application/json"
# Each family's bad requests and the reasons they are counted under (refusal_reasons).
BAD_REQUESTS = [(family, request_, reason) for family in MODELS
                for request_, reason in hook(family, "refusal_reasons", list)()]


@pytest.mark.parametrize("family, request_, reason", BAD_REQUESTS,
                         ids=[f"{family}-{reason}" for family, _, reason in BAD_REQUESTS])
def test_each_refusal_is_counted_under_the_reason_that_names_it(handlers, family, request_, reason):
    assert refusal_reason(handlers[family], request_) == reason


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
    # (body, content type, rows a valid request holds, reason a bad one is refused for), for
    # every family that says what to send (metered_requests): each model's counters apart.
    plan = {model: hook(model, "metered_requests")() for model in MODELS
            if hook(model, "metered_requests")}
    if len(plan) < 2:
        pytest.skip("needs two families under test with metered_requests")
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
    model = subject("metrics")
    if model not in MODELS:
        pytest.skip(f"{model} is not in TEST_MODELS")
    assert post(server, model, *sample_body(model)) == 200
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        samples = scrape(server)
        if total(samples, "handler_postprocess_seconds_count", ModelName=model) or \
                time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for name in (*STEP_METRICS.values(), BATCH_SIZE_METRIC):
        count = total(samples, f"{name}_count", ModelName=model)
        buckets = [(labels["le"], value) for labels, value in samples[f"{name}_bucket"]
                   if labels["ModelName"] == model]
        assert count >= 1 and dict(buckets)["+Inf"] == count, name
        assert total(samples, f"{name}_sum", ModelName=model) > 0, name
    # Seconds, not milliseconds: this small model answers well inside a second per batch.
    assert total(samples, "handler_inference_seconds_sum", ModelName=model) < count


def test_metrics_endpoint_answers_without_a_key_on_loopback_only(server):
    response = requests.get(f"{server.metrics_url}/metrics", timeout=HTTP_TIMEOUT)
    assert response.status_code == 200 and "ts_inference_requests_total" in response.text
    assert server.metrics_url.startswith("http://127.0.0.1:")
    # The inference API beside it still wants its key (TorchServe refuses with a 400).
    keyless = requests.post(f"{server.inference_url}/predictions/{MODELS[0]}", data=b"{}",
                            headers={"Content-Type": JSON}, timeout=HTTP_TIMEOUT)
    assert keyless.status_code == 400 and keyless.json()["type"] == "InvalidKeyException"
