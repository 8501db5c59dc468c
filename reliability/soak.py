"""Soak: steady mixed load after a warm-up; the frontend's and every worker's resident memory must grow < 10%.

    python -m reliability.soak                  # 60 s warm-up, then 60 s measured, concurrency 32
    python -m reliability.soak --dry-run        # 5 s + 10 s, figures not written to the docs

Resident memory (RSS, from psutil) is read every few seconds from the start
of the load; the reading at the end of the warm-up is the baseline. The Java
frontend's RSS grows for about the first minute while it touches its heap
(G1 starts with 1/64 of the machine's memory), hence the warm-up. Exit status
0 only when no process grew by MAX_GROWTH or more after the warm-up, no
worker was restarted, and every answer was right.
"""

import itertools
import time

import psutil

from harness.examples import mixed_calls
from harness.load import Load
from harness.settings import model_families
from harness.torchserve import private_server
from reliability.report import check_arguments, latency_table, machine, publish

MAX_GROWTH = 0.10  # the most a process's memory may grow between warm-up and end


def rss_mib(pid) -> float:
    """Process id → its resident memory in MiB."""
    return psutil.Process(pid).memory_info().rss / 2**20


def processes(server, models) -> dict:
    """Running server → {"frontend (Java)": pid, "<model> worker": pid, …}."""
    found = {"frontend (Java)": server.frontend().pid}
    for model in models:
        for number, pid in enumerate(server.worker_pids(model), 1):
            found[f"{model} worker" + (f" {number}" if number > 1 else "")] = pid
    return found


def main():
    parser = check_arguments(__doc__, concurrency=32, seconds=(60.0, 10.0, "measured load"),
                             warm_up=(60.0, 5.0, "seconds of load before the baseline reading"),
                             every=(10.0, None, "seconds between readings"))
    args = parser.parse_args()

    started_on = machine()
    models = model_families()
    calls = mixed_calls(models, 4000)
    with private_server(models) as server:
        pids = processes(server, models)
        total = args.warm_up + args.seconds
        load = Load(server, itertools.cycle(calls), args.concurrency, seconds=total)
        load.start()
        ticks = (i * args.every for i in range(int(total // args.every) + 1))
        marks = sorted({args.warm_up, total, *ticks})
        readings = []  # (seconds since the load began, {process: RSS in MiB})
        for mark in marks:
            time.sleep(max(0.0, mark - load.elapsed))
            readings.append((mark, {name: rss_mib(pid) for name, pid in pids.items()}))
        outcomes = load.wait()
        restarted = pids != processes(server, models)

    first = dict(readings)[args.warm_up]  # the baseline: the reading as the warm-up ends
    last = readings[-1][1]
    growth = {name: last[name] / first[name] - 1 for name in pids}
    measured_from = load.started + args.warm_up
    measured = [o for o in outcomes if o.started >= measured_from]
    wrong = [o for o in outcomes if not o.ok]
    lines = [
        (f"{len(outcomes):,} requests over {args.warm_up + args.seconds:.0f} s at concurrency "
         f"{args.concurrency} ({len(measured):,} in the measured {args.seconds:.0f} s), "
         f"{len(wrong)} wrong or failed; workers restarted: {'yes' if restarted else 'no'}."),
        "",
        "| process | pid | RSS after warm-up | RSS at end | growth | highest reading |",
        "|---|---:|---:|---:|---:|---:|",
        *[f"| {name} | {pid} | {first[name]:.1f} MiB | {last[name]:.1f} MiB | "
          f"{growth[name]:+.1%} | {max(r[name] for _, r in readings):.1f} MiB |"
          for name, pid in pids.items()],
        "",
        f"Readings (MiB) by seconds since the load began; the warm-up ends at {args.warm_up:.0f} s:",
        "",
        "| s | " + " | ".join(pids) + " |",
        "|---:|" + "---:|" * len(pids),
        *[f"| {at:g}{' (warm-up)' if at < args.warm_up else ''} | "
          + " | ".join(f"{r[name]:.1f}" for name in pids) + " |" for at, r in readings],
        "",
        "Latency over the measured part:",
        "",
        *latency_table(measured, args.seconds),
    ]
    lines += [f"- {o.call.model}: {o.problem} {o.message}" for o in wrong[:10]]
    publish("soak", lines, started_on, write=not args.dry_run)
    healthy = max(growth.values()) < MAX_GROWTH and not wrong and not restarted
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
