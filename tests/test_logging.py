"""log4j2.xml, the logging TorchServe runs with (config.properties: vmargs): each request gets its
line in the access log and none of its own in TorchServe's log, the worker's metrics are not
echoed there, and no line is written twice."""

import time
from xml.etree import ElementTree

from harness.examples import sample_body
from harness.settings import ROOT
from harness.torchserve import (JOB_LINE, JOB_LOGGER, LOG_CONFIG_ARGUMENT, job_logging_config,
                                read_properties)
from tests.calls import post
from tests.under_test import MODELS

REQUESTS = 12
ACCESS_LOG_WAIT_S = 10  # a background thread writes the access log: time to catch up


def log_lines(server, name) -> list:
    path = server.workdir / "logs" / name
    return path.read_text(errors="replace").splitlines() if path.exists() else []


def test_the_repository_config_names_the_log_config_and_the_server_runs_with_it(server):
    vmargs = read_properties(ROOT / "config.properties")["vmargs"].split()
    assert f"{LOG_CONFIG_ARGUMENT}log4j2.xml" in vmargs
    java = server.frontend().cmdline()
    assert f"{LOG_CONFIG_ARGUMENT}{ROOT / 'log4j2.xml'}" in java, java


def test_requests_get_access_lines_and_no_torchserve_lines_of_their_own(server):
    model = MODELS[0]
    body, content_type = sample_body(model)
    ts_mark, access_mark = len(log_lines(server, "ts_log.log")), len(log_lines(server, "access_log.log"))
    for _ in range(REQUESTS):
        response = post(server, model, body, content_type)
        assert response.status_code == 200, response.text[:300]

    ours = f"POST /predictions/{model} HTTP/1.1\" 200"
    deadline = time.monotonic() + ACCESS_LOG_WAIT_S
    while True:
        access = [line for line in log_lines(server, "access_log.log")[access_mark:] if ours in line]
        if len(access) >= REQUESTS or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(access) == REQUESTS

    added = log_lines(server, "ts_log.log")[ts_mark:]
    assert added, "the worker's per-batch lines should still reach ts_log.log"
    assert not [line for line in added if JOB_LINE in line or "ACCESS_LOG" in line
                or "[DEBUG]" in line], "\n".join(added[:10])
    # The worker's metric lines feed /metrics; TorchServe's echo of each one stays out.
    assert not [line for line in added if "[METRICS]" in line], "\n".join(added[:10])
    # The built-in configuration wrote each of TorchServe's lines twice, one after the other.
    assert not [a for a, b in zip(added, added[1:]) if a == b], "\n".join(added[:10])


def test_the_job_logging_config_differs_from_the_repository_one_in_that_logger_alone(tmp_path):
    def loggers(path) -> dict:
        return {logger.get("name"): logger.get("level")
                for logger in ElementTree.parse(path).getroot().iter("Logger")}

    shipped, for_tests = loggers(ROOT / "log4j2.xml"), loggers(job_logging_config(tmp_path))
    assert shipped[JOB_LOGGER] == "warn" and for_tests[JOB_LOGGER] == "info"
    assert {**shipped, JOB_LOGGER: "info"} == for_tests
