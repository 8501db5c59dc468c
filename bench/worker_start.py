"""A worker's start, as the benchmark reports it: the warm-up each worker logged, and how long a
fresh server's first answers take.

handlers/warm_up.py has every worker answer one request of its own family before it reports
READY, and log how long that took; the adapter logs which handler class it built. Both are read
back from the worker's log (model_log.log). The first answers are sent one at a time as soon as
the server is READY, before any other load, so the first one pays whatever the warm-up left to do.
"""

import re
import time

from harness.load import judge

FIRST_ANSWERS = 3  # the first, second and third answer of a fresh server, one at a time
WARMED_UP = re.compile(r"warmed up (\S+) in (\d+) ms")
LOADED = re.compile(r"loaded (\S+) version .* handler (\S+)")


def logged(log_text) -> dict:
    """A TorchServe model log → {family: {"warm_up_ms": [one per worker start], "handler": the
    class name the adapter built}}."""
    found = {}
    for line in log_text.splitlines():
        for pattern, field in ((WARMED_UP, "warm_up_ms"), (LOADED, "handler")):
            match = pattern.search(line)
            if match:
                entry = found.setdefault(match[1], {"warm_up_ms": [], "handler": None})
                if field == "handler":
                    entry["handler"] = match[2]
                else:
                    entry["warm_up_ms"].append(float(match[2]))
    return found


def worker_log(server) -> str:
    """A running TorchServe → the text of its workers' log so far ("" before any)."""
    path = server.workdir / "logs" / "model_log.log"
    return path.read_text(errors="replace") if path.exists() else ""


def first_answers(server, call, count=FIRST_ANSWERS) -> list:
    """A freshly READY server and a Call → the milliseconds of its first `count` answers, sent one
    at a time; raises RuntimeError when one is not the expected answer."""
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        response = server.predict(call.model, call.body, call.content_type)
        latencies.append(1000 * (time.perf_counter() - started))
        problem = judge(call, response.status_code, response.content)
        if problem:
            raise RuntimeError(f"{call.model}: a first answer was wrong: {problem}")
    return latencies
