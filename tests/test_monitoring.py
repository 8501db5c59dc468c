"""deploy/monitoring: the Prometheus scrape configuration points at the configured metrics address,
and every metric and label the Grafana dashboard queries is in a real TorchServe's scrape (and,
where Prometheus is installed, every panel's query answers on a real Prometheus scraping it)."""

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from client.prometheus import by_sample
from harness.examples import sample_body
from harness.torchserve import HTTP_TIMEOUT, free_ports, read_properties, stop_process_group
from tests.calls import post
from tests.under_test import MODELS

ROOT = Path(__file__).resolve().parent.parent
MONITORING = ROOT / "deploy" / "monitoring"
DASHBOARD = json.loads((MONITORING / "grafana" / "torchserve.json").read_text())
PROMETHEUS_WAIT_S = 60  # Prometheus start, two scrapes 1 s apart, and a margin for a busy machine
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset"}


def dashboard_queries() -> list:
    """The dashboard → every PromQL expression its panels and variables run."""
    queries = [target["expr"] for panel in DASHBOARD["panels"] for target in panel.get("targets", [])]
    queries += [re.search(r"label_values\((\w+)", variable["definition"]).group(1)
                for variable in DASHBOARD["templating"]["list"] if variable["type"] == "query"]
    return queries


def selectors(expr) -> tuple:
    """A PromQL expression → ([(metric name, label names matched)], label names grouped by)."""
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range durations
    grouped = [name.strip() for names in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr)
               for name in names.split(",") if name.strip()]
    expr = re.sub(r"\b(?:by|without)\s*\([^)]*\)", "", expr)
    found = []
    # A name right before "(" is a function, not a metric.
    for name, matchers in re.findall(r"\b([A-Za-z_:][\w:]*)\b\s*(\{[^}]*\})?(?!\s*\()", expr):
        if name not in KEYWORDS:
            found.append((name, re.findall(r"(\w+)\s*=~?", matchers or "")))
    return found, grouped


def traffic(model) -> list:
    """One good and one bad request for a model, so that its series exist: its sample, and an
    empty body."""
    body, content_type = sample_body(model)
    return [(body, content_type), (b"", content_type)]


@pytest.fixture(scope="module")
def busy_server(server):
    """The shared server after a good and a bad request to every model, so every series exists."""
    for model in MODELS:
        for body, content_type in traffic(model):
            post(server, model, body, content_type)
    return server


def test_prometheus_scrapes_the_configured_metrics_address():
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    metrics_address = read_properties(ROOT / "config.properties")["metrics_address"]
    assert job["static_configs"][0]["targets"] == [metrics_address.split("://", 1)[1]]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert "authorization" not in job and "basic_auth" not in job  # TorchServe asks for no key


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool is not installed")
def test_promtool_accepts_the_scrape_configuration():
    result = subprocess.run(["promtool", "check", "config", str(MONITORING / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_mounts_files_that_exist_and_listens_on_loopback():
    compose = yaml.safe_load((MONITORING / "docker-compose.yml").read_text())
    for service in compose["services"].values():
        assert service["network_mode"] == "host"
        for volume in service.get("volumes", []):
            assert (MONITORING / volume.split(":")[0]).is_file(), volume
    assert "--web.listen-address=127.0.0.1:9090" in compose["services"]["prometheus"]["command"]
    assert compose["services"]["grafana"]["environment"]["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"
    datasource = yaml.safe_load((MONITORING / "grafana" / "datasources.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://127.0.0.1:9090"


def test_every_dashboard_query_reads_the_handler_and_torchserve_metrics():
    queried = {name for expr in dashboard_queries() for name, _ in selectors(expr)[0]}
    assert {"handler_preprocess_seconds_bucket", "handler_inference_seconds_bucket",
            "handler_postprocess_seconds_bucket", "handler_batch_size_sum",
            "handler_invalid_inputs_total", "ts_inference_requests_total",
            "ts_inference_latency_microseconds", "Requests4XX"} <= queried
    for panel in DASHBOARD["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_every_metric_and_label_the_dashboard_queries_is_in_a_real_scrape(busy_server):
    deadline = time.monotonic() + 30  # the worker's metric lines trail its answers
    while True:
        text = requests.get(f"{busy_server.metrics_url}/metrics", timeout=HTTP_TIMEOUT).text
        samples = by_sample(text)
        # A labelled counter nothing has counted yet (Requests5XX) is declared with no sample.
        declared = set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))
        missing = []
        for expr in dashboard_queries():
            metrics, grouped = selectors(expr)
            for name, matched in metrics:
                labels = set().union(*(found for found, _ in samples.get(name, [])))
                if name not in samples and name not in declared:
                    missing.append(f"{name} (in {expr})")
                missing += [f"label {label} of {name}" for label in matched
                            if name in samples and label not in labels]
            labels = set().union(*(found for name, _ in metrics for found, _ in samples.get(name, [])))
            missing += [f"grouping label {label} in {expr}" for label in grouped
                        if labels and label not in labels]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not missing, "\n".join(missing)


@pytest.mark.skipif(not shutil.which("prometheus"), reason="Prometheus is not installed")
def test_every_dashboard_panel_answers_on_a_real_prometheus(busy_server, tmp_path):
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = "1s"
    config["scrape_configs"][0]["static_configs"][0]["targets"] = [
        busy_server.metrics_url.split("://", 1)[1]]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    [port] = free_ports(1)
    with open(tmp_path / "prometheus.log", "wb") as log:
        prometheus = subprocess.Popen(
            ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        api = f"http://127.0.0.1:{port}/api/v1/query"
        # Grafana's variables, as it fills them in: every model, a short rate window.
        queries = [expr.replace("$model", ".*").replace("$__rate_interval", "10s")
                   .replace("$__range", "5m") for expr in dashboard_queries()]
        deadline = time.monotonic() + PROMETHEUS_WAIT_S
        while True:
            empty = []
            for query in queries:
                try:
                    answer = requests.get(api, params={"query": query}, timeout=HTTP_TIMEOUT).json()
                    assert answer["status"] == "success", (query, answer)
                    if not answer["data"]["result"]:
                        empty.append(query)
                except requests.ConnectionError:  # still starting
                    empty.append(query)
            if not empty or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert not empty, "no data for:\n" + "\n".join(empty) + "\n" + (
            tmp_path / "prometheus.log").read_text()[-3000:]
    finally:
        stop_process_group(prometheus, timeout_s=30)
