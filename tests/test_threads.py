"""Torch threads per worker: workers × threads never exceed the usable cores."""

import os

import pytest

from handlers import hardware
from handlers.torchserve_handler import set_interop_threads


@pytest.mark.parametrize("cores, workers, threads", [(2, 1, 2), (2, 2, 1), (2, 3, 1), (16, 3, 5),
                                                      (16, 4, 4), (1, 1, 1), (8, 0, 8)])
def test_threads_per_worker_never_oversubscribes(monkeypatch, cores, workers, threads):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr(hardware, "CPU_QUOTA_FILE", "/nonexistent/cpu.max")
    assert hardware.threads_per_worker(workers) == threads
    assert threads * max(1, workers) <= cores or threads == 1


@pytest.mark.parametrize("cpu_max, cores", [("200000 100000\n", 2), ("150000 100000", 1),
                                            ("50000 100000", 1), ("max 100000", 16),
                                            ("1600000 100000", 16), ("garbage", 16)])
def test_a_container_cpu_limit_caps_the_cores(monkeypatch, tmp_path, cpu_max, cores):
    # A pod limited to 2 CPUs on a 16-core node: 16 threads per worker would thrash.
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    quota = tmp_path / "cpu.max"
    quota.write_text(cpu_max)
    monkeypatch.setattr(hardware, "CPU_QUOTA_FILE", str(quota))
    assert hardware.usable_cores() == cores
    assert hardware.threads_per_worker(2) == max(1, cores // 2)


def test_interop_threads_can_be_asked_for_twice():
    # TorchServe calls initialize once per worker process, but a second call
    # (tests, a reload) must not crash the worker: torch refuses, we carry on.
    set_interop_threads(1)
    set_interop_threads(1)
