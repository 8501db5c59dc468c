"""Worker crash: SIGKILL one of a model's two workers mid-load; TorchServe restarts it and only requests in flight may fail.

    python -m reliability.crash                 # digits_cnn, concurrency 8, 10 kills
    python -m reliability.crash --dry-run       # 2 kills, figures not written to the docs

Recovery time is from the kill to a new READY worker in the management
API's description. Exit status 0 only when the worker came back, every
failed request was exposed to the dying worker (in flight at the kill, or
sent before the frontend had noticed), and every request sent after the
recovery got its expected answer.
"""

import itertools
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass

from harness.examples import calls_for, subject
from harness.load import Load
from harness.torchserve import private_server
from harness.torchserve import HTTP_TIMEOUT
from reliability.report import check_arguments, latency_table, machine, ms, publish

POLL_S = 0.05  # how often the management API is asked about the workers
RECOVERY_TIMEOUT_S = 120


@dataclass
class CrashRun:
    """One kill under load: which worker, when, when the frontend saw it and replaced it, and every outcome."""

    victim: int
    killed_at: float  # time.monotonic()
    seen_dead_at: float  # the management API no longer lists the victim as READY
    recovered_at: float  # a new worker READY beside the survivor
    replacement: int
    outcomes: list

    @property
    def recovery_s(self) -> float:
        return self.recovered_at - self.killed_at

    @property
    def failed(self) -> list:
        return [o for o in self.outcomes if not o.ok]

    @property
    def in_flight(self) -> list:
        """Requests sent before the kill and not yet answered at the kill."""
        return [o for o in self.outcomes if o.started <= self.killed_at < o.finished]

    @property
    def exposed(self) -> list:
        """Requests that may have met the dead worker: in flight at the kill, or sent before the
        management API showed the worker gone (the frontend may hand them to it until it notices)."""
        return [o for o in self.outcomes
                if o.started < self.seen_dead_at and o.finished > self.killed_at]

    @property
    def after_recovery(self) -> list:
        return [o for o in self.outcomes if o.started >= self.recovered_at]

    @property
    def only_exposed_failed(self) -> bool:
        exposed = set(map(id, self.exposed))
        return all(id(o) in exposed for o in self.failed)

    @property
    def holds(self) -> bool:
        """Only exposed requests failed, and every request sent after the recovery succeeded."""
        after = self.after_recovery
        return self.only_exposed_failed and bool(after) and all(o.ok for o in after)


def wait_for(condition, timeout_s=RECOVERY_TIMEOUT_S) -> float:
    """Poll `condition()` until it is true → the time.monotonic() it was first seen true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(POLL_S)
    raise TimeoutError(f"still waiting after {timeout_s} s")


def kill_one_worker_under_load(server, model, calls, concurrency=8, before_s=5.0,
                               after_s=10.0, timeout_s=HTTP_TIMEOUT) -> CrashRun:
    """Scale `model` to two workers, load it, SIGKILL one worker, wait for its replacement, load on → CrashRun."""
    server.scale(model, 2)
    # A synchronous scale can return before the new worker reports READY.
    wait_for(lambda: len(server.worker_pids(model)) == 2)
    load = Load(server, itertools.cycle(calls), concurrency, timeout_s).start()
    try:
        time.sleep(before_s)
        before = server.worker_pids(model)
        if len(before) != 2:
            raise RuntimeError(f"expected two READY {model} workers before the kill, got {before}")
        victim = before[0]
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        seen_dead_at = wait_for(lambda: victim not in server.worker_pids(model))
        recovered_at = wait_for(lambda: len(server.worker_pids(model)) == 2)
        [replacement] = set(server.worker_pids(model)) - set(before)
        time.sleep(after_s)
    finally:
        load.stop()
        outcomes = load.wait()
    return CrashRun(victim, killed_at, seen_dead_at, recovered_at, replacement, outcomes)


def describe(number, run) -> str:
    """One kill → a Markdown table row: recovery, requests, failures by kind, after recovery."""
    kinds = Counter("no answer" if o.status is None else str(o.status) for o in run.failed)
    failures = ", ".join(f"{kind} × {count}" for kind, count in sorted(kinds.items())) or "none"
    sent_late = len(run.exposed) - len(run.in_flight)
    return (f"| {number} | {ms(run.seen_dead_at - run.killed_at)} | {run.recovery_s:.2f} s | "
            f"{len(run.outcomes):,} | {len(run.in_flight)} + {sent_late} "
            f"| {len(run.failed)}: {failures} | {'yes' if run.only_exposed_failed else '**no**'} | "
            f"{len(run.after_recovery):,}, {sum(not o.ok for o in run.after_recovery)} failed |")


def main():
    parser = check_arguments(__doc__, concurrency=8,
                             before=(2.0, None, "seconds of load before the kill"),
                             after=(3.0, None, "seconds of load after the recovery"),
                             kills=(10, 2, "kills in a row on one server, to catch rare outcomes"))
    parser.add_argument("--model", default=subject("crash"),
                        help=f"the model to crash (default {subject('crash')})")
    args = parser.parse_args()

    started_on = machine()
    good, _ = calls_for(args.model)
    with private_server([args.model]) as server:
        runs = [kill_one_worker_under_load(server, args.model, good, args.concurrency,
                                           args.before, args.after) for _ in range(args.kills)]

    outcomes = [o for run in runs for o in run.outcomes]
    failed = [o for run in runs for o in run.failed]
    lines = [
        (f"{args.model} with 2 workers under load at concurrency {args.concurrency}; one worker "
         f"killed with SIGKILL {args.before:g} s into the load, which goes on {args.after:g} s "
         f"after the recovery; {args.kills} times in a row."),
        "",
        ("| kill | worker shown gone after | new worker READY after | requests | exposed: in "
         "flight at the kill + sent before it showed gone | failed | only exposed ones failed "
         "| after the recovery |"),
        "|---:|---:|---:|---:|---:|---|---|---|",
        *[describe(number, run) for number, run in enumerate(runs, 1)],
        "",
        *latency_table(outcomes, sum(r.outcomes[-1].finished - r.outcomes[0].started
                                     for r in runs)),
    ]
    if failed:
        lines += ["", "What the failed requests got:", ""]
        lines += sorted({f"- {o.problem}: `{' '.join(o.message.split())}`" for o in failed})
    publish("crash", lines, started_on, write=not args.dry_run)
    return 0 if all(run.holds for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
