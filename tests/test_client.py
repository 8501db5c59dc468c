"""`python -m client`, run as a command against real TorchServes: predictions, status, scaling, metrics,
versions with the model API on, and one clear line with its own exit status when something is wrong."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from client.prometheus import SERVER, parse, summary
from client.request_body import BodyError, request_body, sniff
from handlers import handler_class
from handlers.base import ModelHandler
from harness.archives import build_store
from harness.examples import sample
from harness.torchserve import private_config, start_private
from tests.in_process import expected_answers
from tests.protocol_bodies import plain_examples
from tests.under_test import first_with_sample

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
# The client sends a file as what it is: one family whose sample is a picture, one whose is text.
IMAGE, TEXT = first_with_sample("image/"), first_with_sample("text/")
SERVED = (IMAGE, TEXT)
# Keep the caller's TORCHSERVE_* settings (say, from a shell that talks to
# `make serve`) away from the servers these tests start.
ENV = {k: v for k, v in os.environ.items() if not k.startswith("TORCHSERVE_")}


def run_client(*args, config, key_file=None, stdin=None, env=None, timeout=300):
    """Client arguments → the finished `python -m client` process, its output as text."""
    command = [sys.executable, "-m", "client", *args, "--config", str(config),
               *(["--key-file", str(key_file)] if key_file else [])]
    result = subprocess.run(command, cwd=ROOT, input=stdin, capture_output=True, check=False,
                            timeout=timeout, env={**ENV, **(env or {})})
    result.stdout, result.stderr = (result.stdout.decode(errors="replace"),
                                    result.stderr.decode(errors="replace"))
    return result


def one_error_line(result) -> str:
    """A failed run → its single error line (and checks it printed nothing else)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.fixture(scope="module")
def served(model_store, tmp_path_factory):
    """TorchServe with the model API off (the default), serving IMAGE and TEXT."""
    if None in SERVED:
        pytest.skip("no family under test has a picture or a text as its sample (TEST_MODELS)")
    missing = [m for m in SERVED if not (model_store / f"{m}.mar").exists()]
    if missing:
        pytest.skip(f"not built in this run (TEST_MODELS): {', '.join(missing)}")
    folder = tmp_path_factory.mktemp("client")
    (folder / "store").mkdir()
    for model in SERVED:
        shutil.copy(model_store / f"{model}.mar", folder / "store")
    (folder / "server").mkdir()
    server = start_private(folder / "server", folder / "store")
    yield server
    server.stop()


def predict(served, *args, **options):
    return run_client("predict", *args, config=served.config_path, **options)


# Predictions


def sample_file(model) -> str:
    """The path of the family's sample request, as a user would name it."""
    return str(sample(model)[0])


def sample_answer(checkpoint_dir, model):
    """The in-process answer of the checkpoint under test to the family's sample file."""
    path, content_type = sample(model)
    [answer] = expected_answers(checkpoint_dir, model, [path.read_bytes()], content_type)
    return answer


def json_field(model) -> str:
    """The one field of the family's plain JSON body ("text" for a review)."""
    [field] = plain_examples(model)[0]
    return field


def test_an_image_file_is_sent_as_an_image(served, checkpoint_dir):
    result = predict(served, IMAGE, sample_file(IMAGE))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == sample_answer(checkpoint_dir, IMAGE)
    assert result.stdout.startswith("{\n  "), "the answer is printed indented"


def test_stdin_is_read_with_a_dash(served, checkpoint_dir):
    result = predict(served, IMAGE, "-", stdin=sample(IMAGE)[0].read_bytes())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == sample_answer(checkpoint_dir, IMAGE)


def test_text_a_text_file_and_json_get_the_same_answer(served, checkpoint_dir):
    text = sample(TEXT)[0].read_text().strip()
    answers = [predict(served, TEXT, argument)
               for argument in (sample_file(TEXT), text, json.dumps({json_field(TEXT): text}))]
    assert [a.returncode for a in answers] == [0, 0, 0], [a.stderr for a in answers]
    assert len({a.stdout for a in answers}) == 1
    assert json.loads(answers[0].stdout) == sample_answer(checkpoint_dir, TEXT)


def test_a_json_literal_is_sent_as_json_and_a_refusal_prints_the_server_message(served):
    # Sent as text, this would be read as the text itself; as JSON it lacks the family's field.
    result = predict(served, TEXT, '{"review": "great"}')
    assert result.returncode == 1
    line = one_error_line(result)
    assert "400 InvalidInput" in line and f"missing field(s): {json_field(TEXT)}" in line


def test_a_version_is_reached_by_url(served):
    assert predict(served, IMAGE, sample_file(IMAGE), "--version", "1.0").returncode == 0
    missing = predict(served, IMAGE, sample_file(IMAGE), "--version", "9.9")
    assert missing.returncode == 1
    assert "9.9 does not exist" in one_error_line(missing)


def test_a_missing_file_is_named_before_anything_is_sent(served):
    result = predict(served, IMAGE, "samples/digit_8.png")
    assert result.returncode == 2
    assert "no file samples/digit_8.png" in one_error_line(result)


# Status, scaling, metrics


def test_status_lists_every_model_with_its_workers(served):
    result = run_client("status", config=served.config_path)
    assert result.returncode == 0, result.stderr
    for model in SERVED:
        assert f"{model} 1.0 (default)" in result.stdout
        for pid in served.worker_pids(model):
            assert f"READY     pid {pid}  cpu" in result.stdout
    batch = served.describe(IMAGE)[0]["batchSize"]
    one = run_client("status", IMAGE, config=served.config_path)
    assert f"batching: up to {batch} requests" in one.stdout
    assert TEXT not in one.stdout
    raw = json.loads(run_client("status", "--json", config=served.config_path).stdout)
    assert set(raw) == set(SERVED) and raw[IMAGE][0]["modelVersion"] == "1.0"


def test_scale_up_and_back(served):
    up = run_client("scale", IMAGE, "--workers", "2", config=served.config_path)
    assert up.returncode == 0, up.stderr
    assert len(served.worker_pids(IMAGE)) == 2
    assert "workers: 2 READY of 2 (min 2, max 2)" in up.stdout
    down = run_client("scale", IMAGE, "--workers", "1", config=served.config_path)
    assert down.returncode == 0, down.stderr
    assert len(served.worker_pids(IMAGE)) == 1
    assert "workers: 1 READY of 1 (min 1, max 1)" in down.stdout


def test_the_metrics_summary_lists_each_model(served):
    for model in SERVED:
        assert predict(served, model, sample_file(model)).returncode == 0
    result = run_client("metrics", config=served.config_path)
    assert result.returncode == 0, result.stderr
    groups = summary_groups(result.stdout)
    assert set(SERVED) < set(groups) and SERVER in groups
    for model in SERVED:
        counted = groups[model]["ts_inference_requests_total"]
        assert counted.split()[0] == "counter" and int(counted.split()[1].replace(",", "")) >= 1
    # Every metric the server reports for a model has its row, whatever its name.
    raw = run_client("metrics", "--raw", config=served.config_path).stdout
    for model in SERVED:
        reported = {re.sub(r"_(bucket|count|sum)$", "", line.split("{")[0])
                    for line in raw.splitlines()
                    if f'model_name="{model}"' in line or f'ModelName="{model}"' in line}
        assert reported and reported == {name.split("{")[0] for name in groups[model]}
    only = run_client("metrics", "--model", TEXT, config=served.config_path)
    assert TEXT in only.stdout and IMAGE not in only.stdout


def summary_groups(text) -> dict:
    """The metrics summary → {group: {metric with labels: the rest of its line}}."""
    groups, group = {}, None
    for line in text.splitlines()[2:]:
        if line and not line[0].isspace():
            group = groups.setdefault(line, {})
        elif line.strip():
            name, rest = line.split(None, 1)
            group[name] = rest
    return groups


def test_explain_asks_the_explanations_api(served, checkpoint_dir):
    explained = next(m for m in SERVED if handler_class(m).explain is not ModelHandler.explain)
    result = predict(served, explained, sample_file(explained), "--explain")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    predicted = sample_answer(checkpoint_dir, explained)
    # Every explanation reports how far its attributions are from adding up.
    assert answer["label"] == predicted["label"] and "convergence_delta" in answer


# Clear errors


def test_registration_with_the_model_api_off_says_how_to_switch_it_on(served):
    for args in (["register", f"{IMAGE}.mar"], ["unregister", IMAGE, "1.0"]):
        result = run_client(*args, config=served.config_path)
        assert result.returncode == 1, result.stderr
        line = one_error_line(result)
        assert "enable_model_api=false" in line and "tools.serve start --model-api" in line


def test_a_server_that_is_down_gets_one_line(served, tmp_path):
    config = private_config(tmp_path, served.model_store)  # free ports, nothing listening
    for key_file in (served.keys.path, None):  # `make stop` deletes the key file
        for args in (["status"], ["predict", IMAGE, "-"], ["metrics"]):
            result = run_client(*args, config=config, key_file=key_file, stdin=b"x")
            assert result.returncode == 3, (args, result.stderr)
            line = one_error_line(result)
            assert "connection refused" in line and "is TorchServe running?" in line


def test_a_server_that_does_not_answer_times_out(served):
    with socket.socket() as silent:  # accepts connections (the backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"http://127.0.0.1:{silent.getsockname()[1]}"
        result = run_client("predict", IMAGE, sample_file(IMAGE),
                            "--timeout", "1", config=served.config_path,
                            env={"TORCHSERVE_INFERENCE_ADDRESS": address})
    assert result.returncode == 3
    line = one_error_line(result)
    assert f"{address} gave no answer within 1 s (--timeout)" in line


def test_a_wrong_key_is_called_stale(served, tmp_path):
    keys = json.loads(served.keys.path.read_text())
    for kind in ("inference", "management"):
        keys[kind]["key"] = "wrongkey"
    stale = tmp_path / "key_file.json"
    stale.write_text(json.dumps(keys))
    for args, kind in ((["predict", IMAGE, sample_file(IMAGE)], "inference"),
                       (["status"], "management")):
        result = run_client(*args, config=served.config_path, key_file=stale)
        assert result.returncode == 4
        line = one_error_line(result)
        assert f"refused the {kind} key from {stale}" in line and "stale" in line


def test_a_missing_key_file_is_named(served, tmp_path):
    result = run_client("status", config=served.config_path, key_file=tmp_path / "none.json")
    assert result.returncode == 4
    assert f"no key file at {tmp_path / 'none.json'}" in one_error_line(result)


# Versions, with the model API on


@pytest.fixture(scope="module")
def versioned(served, checkpoint_dir, tmp_path_factory):
    """`tools.serve start --model-api` on IMAGE 1.0 → (config, an IMAGE 2.0 archive outside the
    store); stopped with `tools.serve stop`."""
    folder = tmp_path_factory.mktemp("client_versions")
    (folder / "store").mkdir()
    shutil.copy(served.model_store / f"{IMAGE}.mar", folder / "store")
    config = private_config(folder, folder / "store")
    assert "enable_model_api=false" in config.read_text()
    # A private temp dir keeps this server's pid file apart from any `make serve`.
    env = {**ENV, "TMPDIR": str(folder), "TEMP": str(folder)}

    def serve(*args):
        return subprocess.run([sys.executable, "-m", "tools.serve", *args, "--config", str(config)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                              check=False)

    started = serve("start", "--model-api")
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        build_store(folder / "v2", [IMAGE], checkpoint_dir, version="2.0")
        yield config, folder / "v2" / f"{IMAGE}.mar"
    finally:
        serve("stop")


def test_serve_two_versions_switch_the_default_and_roll_back(versioned, checkpoint_dir):
    config, new_archive = versioned

    def client(*args):
        return run_client(*args, config=config)

    def versions():
        result = client("versions", IMAGE)
        assert result.returncode == 0, result.stderr
        return [line.split()[1:3] for line in result.stdout.splitlines()]

    assert versions() == [["1.0", "default"]]
    registered = client("register", str(new_archive))
    assert registered.returncode == 0, registered.stderr
    assert f"{IMAGE} 2.0: 1 worker(s) READY" in registered.stdout
    assert "the default is still 1.0" in registered.stdout
    assert (config.parent / "store" / f"{IMAGE}_v2.0.mar").exists()
    assert versions() == [["1.0", "default"], ["2.0", "1"]]

    answer = client("predict", IMAGE, sample_file(IMAGE), "--version", "2.0")
    assert answer.returncode == 0
    assert json.loads(answer.stdout) == sample_answer(checkpoint_dir, IMAGE)

    assert client("set-default", IMAGE, "2.0").returncode == 0
    assert versions() == [["1.0", "1"], ["2.0", "default"]]
    refused = client("unregister", IMAGE, "2.0")
    assert refused.returncode == 1
    assert "Cannot remove default version" in one_error_line(refused)
    assert f"set-default {IMAGE} VERSION" in refused.stderr

    # Roll back: 1.0 is the default again and 2.0 goes.
    assert client("set-default", IMAGE, "1.0").returncode == 0
    removed = client("unregister", IMAGE, "2.0")
    assert removed.returncode == 0, removed.stderr
    assert versions() == [["1.0", "default"]]
    # Registering by file name, from the model store, brings it back.
    again = client("register", f"{IMAGE}_v2.0.mar")
    assert again.returncode == 0, again.stderr
    assert [v[0] for v in versions()] == ["1.0", "2.0"]


def test_register_names_an_archive_it_cannot_find(versioned):
    config, _ = versioned
    result = run_client("register", "nothing.mar", config=config)
    assert result.returncode == 2
    assert "no archive at nothing.mar" in one_error_line(result)


# The parts, without a server


def test_request_bodies_get_the_content_type_of_what_they_are(tmp_path):
    png = (SAMPLES / "digit_3.png").read_bytes()
    assert request_body(str(SAMPLES / "digit_3.png"))[1] == "image/png"
    assert request_body(str(SAMPLES / "patient.json"))[1] == "application/json"
    assert request_body(str(SAMPLES / "review.txt"))[1] == "text/plain"
    assert request_body('{"digit": 7}') == (b'{"digit": 7}', "application/json")
    assert request_body("[1, 2]")[1] == "application/json"
    assert request_body("not bad at all") == (b"not bad at all", "text/plain")
    assert request_body("42")[1] == "text/plain"  # a bare number is text, not a JSON document
    assert request_body("{broken")[1] == "text/plain"
    assert request_body("great.png", content_type="text/plain") == (b"great.png", "text/plain")
    with pytest.raises(BodyError, match="no file great.png"):
        request_body("great.png")
    unnamed = tmp_path / "picture"
    unnamed.write_bytes(png)
    assert request_body(str(unnamed))[1] == "image/png"
    assert [sniff(b) for b in (png, b"\xff\xd8\xff\xe0", b'{"a": 1}', b"hello", b"\xff\x00")] == \
        ["image/png", "image/jpeg", "application/json", "text/plain", "application/octet-stream"]


PROMETHEUS = """\
# HELP ts_inference_requests_total Torchserve prometheus counter metric with unit: Count
# TYPE ts_inference_requests_total counter
ts_inference_requests_total{model_name="image_model",model_version="default",hostname="vm",} 3.0
ts_inference_requests_total{model_name="image_model",model_version="2.0",hostname="vm",} 1.0
# HELP ts_inference_latency_microseconds Torchserve prometheus counter metric with unit: Microseconds
# TYPE ts_inference_latency_microseconds counter
ts_inference_latency_microseconds{model_name="image_model",model_version="default",hostname="vm",} 30000.0
# HELP InvalidInput Torchserve prometheus counter metric with unit: Count
# TYPE InvalidInput counter
InvalidInput{ModelName="text_model",reason="text is \\"empty\\", really",Level="Model",Hostname="vm",} 2.0
# TYPE MemoryUsed gauge
MemoryUsed{Level="Host",Hostname="vm",} 3253.5
Requests2XX 7 1700000000000
# HELP handler_preprocess_seconds Torchserve prometheus histogram metric with unit: s
# TYPE handler_preprocess_seconds histogram
handler_preprocess_seconds_bucket{ModelName="image_model",Level="Model",Hostname="vm",le="0.005",} 1.0
handler_preprocess_seconds_bucket{ModelName="image_model",Level="Model",Hostname="vm",le="0.01",} 2.0
handler_preprocess_seconds_bucket{ModelName="image_model",Level="Model",Hostname="vm",le="+Inf",} 4.0
handler_preprocess_seconds_count{ModelName="image_model",Level="Model",Hostname="vm",} 4.0
handler_preprocess_seconds_sum{ModelName="image_model",Level="Model",Hostname="vm",} 0.1
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 0.002
rpc_seconds_count 10
rpc_seconds_sum 0.05
"""


def test_prometheus_text_is_grouped_by_model_with_new_metrics_included():
    metrics = parse(PROMETHEUS)
    assert metrics["InvalidInput"].samples == [
        ({"ModelName": "text_model", "reason": 'text is "empty", really', "Level": "Model",
          "Hostname": "vm"}, 2.0)]
    assert metrics["Requests2XX"].samples == [({}, 7.0)]
    lines = summary(metrics)
    assert [line for line in lines if not line.startswith(" ")] == ["image_model", "text_model",
                                                                    SERVER]
    text = "\n".join(" ".join(line.split()) for line in lines)
    assert "ts_inference_latency_microseconds counter 30,000 µs (mean 10.00 ms per request)" in text
    assert 'ts_inference_requests_total{model_version="2.0"}' in text
    assert 'InvalidInput{reason="text is "empty", really"}' in text
    assert "MemoryUsed gauge 3,253.50" in text and "Requests2XX untyped 7" in text
    # A histogram is one row: its count, mean and the buckets its median and 95th percentile fall in.
    assert ("handler_preprocess_seconds histogram 4 observed, mean 25.00 ms, 50% ≤ 10.00 ms, "
            "95% > 10.00 ms") in text
    assert "rpc_seconds summary 10 observed, mean 0.005, 50% ≈ 0.002" in text  # no unit in its HELP
    assert "_bucket" not in text and "_count" not in text
    assert summary(metrics, "text_model")[0] == "text_model"
    assert summary(metrics, "nope") == []
    with pytest.raises(ValueError, match="line 2"):
        parse("ok 1\nbroken{a=1} 2\n")
