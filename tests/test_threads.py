"""Torch threads per worker: workers × threads never exceed the usable cores."""

import os

import pytest

from handlers import base
from handlers.torchserve_handler import set_interop_threads


@pytest.mark.parametrize("cores, workers, threads", [(2, 1, 2), (2, 2, 1), (2, 3, 1), (16, 3, 5),
                                                      (16, 4, 4), (1, 1, 1), (8, 0, 8)])
def test_threads_per_worker_never_oversubscribes(monkeypatch, cores, workers, threads):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert base.threads_per_worker(workers) == threads
    assert threads * max(1, workers) <= cores or threads == 1


def test_interop_threads_can_be_asked_for_twice():
    # TorchServe calls initialize once per worker process, but a second call
    # (tests, a reload) must not crash the worker: torch refuses, we carry on.
    set_interop_threads(1)
    set_interop_threads(1)
