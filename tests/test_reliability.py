"""Reliability on a real TorchServe, scaled down: a killed worker is replaced, a full queue answers 503 at once.

The full runs, with their figures, are the scripts in reliability/ (docs/reliability.md).
"""

import shutil

import pytest

from harness.examples import calls_for, subject
from harness.torchserve import HTTP_TIMEOUT, start_private
from reliability import overload
from reliability.crash import kill_one_worker_under_load

MODEL = subject("crash")
QUEUE = 4  # job_queue_size: small, so a burst of a few dozen slow requests overflows it


@pytest.fixture(scope="module")
def small_queue_server(model_store, tmp_path_factory):
    """A TorchServe serving the crash and overload checks' subjects alone, with a job queue of
    QUEUE requests."""
    folder = tmp_path_factory.mktemp("reliability")
    (folder / "store").mkdir()
    for model in {MODEL, overload.MODEL}:
        if not (model_store / f"{model}.mar").exists():
            pytest.skip(f"{model} is not among TEST_MODELS")
        shutil.copy(model_store / f"{model}.mar", folder / "store")
    server = start_private(folder, folder / "store", job_queue_size=QUEUE)
    yield server
    server.stop()


def test_a_killed_worker_is_replaced_and_only_requests_it_held_fail(small_queue_server,
                                                                    checkpoint_dir):
    good, _ = calls_for(MODEL, checkpoint_dir, size=20)
    # Fewer clients than the queue holds, so no request is refused for room.
    # A request the dying worker took into its batch may get no answer at all
    # (docs/reliability.md), so the client waits 5 s, not 10, before giving up.
    run = kill_one_worker_under_load(small_queue_server, MODEL, good, concurrency=QUEUE - 1,
                                     before_s=1, after_s=1.5, timeout_s=5)
    assert run.replacement not in (None, run.victim)
    assert run.in_flight, "no request was in flight at the kill"
    assert run.only_exposed_failed, [(o.started - run.killed_at, o.problem) for o in run.failed]
    assert all("Worker died." in o.message for o in run.failed if o.status is not None)
    assert run.after_recovery, "no request was sent after the recovery"
    assert all(o.ok for o in run.after_recovery), [
        (o.started - run.recovered_at, o.status, o.problem) for o in run.after_recovery if not o.ok]


def test_a_burst_over_a_full_queue_gets_fast_503s_and_right_answers(small_queue_server,
                                                                    checkpoint_dir):
    call = overload.slow_call(checkpoint_dir)
    found = overload.verdict(overload.burst(small_queue_server, call, clients=24, seconds=1.5))
    assert found["refused"], "the queue never filled"
    # On a busy test machine the client's own threads may be slow to read an
    # answer, so only the typical refusal must be fast, and none near a timeout.
    assert found["median_refusal"] < overload.FAST_S
    assert found["slowest_refusal"] < HTTP_TIMEOUT / 2
    assert found["served"] and not found["wrong"] and not found["unanswered"]
    assert overload.burst(small_queue_server, call, clients=1, seconds=0.5)[0].ok
