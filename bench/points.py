"""One measured point: load at one concurrency → throughput of right answers, latency percentiles, CPU use.

Shared by the TorchServe sweep and the LitServe peer, so both are measured
and summarised the same way.
"""

import os

import psutil

from bench.http_load import run_load
from harness.load import percentile

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


def machine_busy_seconds() -> float:
    """CPU seconds all processes on this machine have spent so far (all cores, idle and I/O wait
    excluded)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


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
    """Warm up, then load for `seconds` → summary() plus the cores each process role kept busy,
    and those the rest of the machine's processes took meanwhile."""
    if warm_up_s > 0:
        run_load(url_for, calls, concurrency, warm_up_s, headers)
    processes = {**processes, "load generator": [psutil.Process()]}
    before, machine_before = cpu_seconds(processes), machine_busy_seconds()
    outcomes, elapsed = run_load(url_for, calls, concurrency, seconds, headers)
    after, machine_after = cpu_seconds(processes), machine_busy_seconds()
    figures = summary(outcomes, elapsed)
    busy = {role: (after[role] - before[role]) / elapsed for role in processes}
    # Whatever else ran meanwhile (other work on the machine) moves the figures too.
    busy["other processes"] = max(0.0, (machine_after - machine_before) / elapsed - sum(busy.values()))
    figures["cores_busy"] = busy
    return figures
