"""One measured point: load at one concurrency → throughput of right answers, latency percentiles, CPU use.

Shared by the TorchServe sweep and the LitServe peer, so both are measured
and summarised the same way.
"""

import os

import psutil

from bench.http_load import run_load
from reliability.client import percentile

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def cpu_seconds(processes) -> dict:
    """{role: [psutil.Process]} → {role: user + system CPU seconds so far}; gone processes count 0."""
    totals = {}
    for role, members in processes.items():
        total = 0.0
        for process in members:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        totals[role] = total
    return totals


def summary(outcomes, elapsed) -> dict:
    """Outcomes of a run and its seconds → counts, requests/s answered right, latency percentiles (ms)."""
    right = [o for o in outcomes if o.ok]
    wrong = [o for o in outcomes if not o.ok]
    latencies = [o.seconds for o in outcomes]
    return {
        "requests": len(outcomes),
        "wrong": len(wrong),
        "problems": sorted({f"{o.problem} {o.message}".strip() for o in wrong})[:5],
        "seconds": elapsed,
        "throughput": len(right) / elapsed if elapsed else 0.0,
        **{f"p{share}": 1000 * percentile(latencies, share / 100) for share in (50, 95, 99)},
        "max": 1000 * max(latencies, default=0.0),
    }


def measure_point(url_for, calls, concurrency, seconds, warm_up_s, headers, processes) -> dict:
    """Warm up, then load for `seconds` → summary() plus the cores each process role kept busy."""
    if warm_up_s > 0:
        run_load(url_for, calls, concurrency, warm_up_s, headers)
    processes = {**processes, "load generator": [psutil.Process()]}
    before = cpu_seconds(processes)
    outcomes, elapsed = run_load(url_for, calls, concurrency, seconds, headers)
    after = cpu_seconds(processes)
    figures = summary(outcomes, elapsed)
    figures["cores_busy"] = {role: (after[role] - before[role]) / elapsed for role in processes}
    return figures
