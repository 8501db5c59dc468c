"""Load a fresh TorchServe until its JVM has stopped compiling, so points measure the frontend
as it runs for hours, not its first minute.

A fresh JVM interprets the frontend's code, then compiles its hot paths (C1, then C2) over the
first tens of seconds of load. On a two-core machine the compiler threads take their CPU from
the frontend, the workers and the load generator being measured: breast_cancer served at c=64
on a fresh server, C2 spent 316 µs of CPU per answered request in the first 4 s, 52 at 20 s and
under 10 from 30 s on, against about 75 for the frontend's whole event loop. A fixed few
seconds of warm-up left the first model measured on a server still compiling.
"""

import time

from bench import java_threads

# Linux names HotSpot's compiler threads "C1 CompilerThread0" and so on, cut to 15 characters.
COMPILER_THREADS = ("C1 CompilerThre", "C2 CompilerThre")
SETTLED_SHARE = 0.05  # of one core, over a whole pass through the calls
WINDOW_S = 2.0  # load per plan in each pass
LIMIT_S = 90.0  # a JVM still compiling after this is reported, not waited for


def compiler_seconds(pid):
    """A JVM's pid → the CPU seconds its JIT compiler threads have spent; None where /proc does
    not name threads (not Linux) or the process is gone."""
    threads = java_threads.thread_seconds(pid)
    if threads is None:
        return None
    return sum(seconds for name, seconds in threads.values() if name.startswith(COMPILER_THREADS))


def warm_up(served, plans, window_s=WINDOW_S, settled_share=SETTLED_SHARE, limit_s=LIMIT_S,
            log=print) -> dict:
    """A bench.sweep.Served and the call lists to load it with → passes of window_s of load on
    each, until one pass kept the JIT compilers under settled_share of a core or limit_s went by:
    {"seconds": spent, "compiler_share": of the last pass, "settled": whether it got there}.
    Without thread names to read, one pass."""
    pid = served.server.frontend().pid
    started = time.monotonic()
    while True:
        before, pass_started = compiler_seconds(pid), time.monotonic()
        for calls in plans:
            served.load(calls, window_s, concurrency=32)
        after = compiler_seconds(pid)
        if before is None or after is None:
            return {"seconds": time.monotonic() - started, "compiler_share": None,
                    "settled": False}
        share = (after - before) / (time.monotonic() - pass_started)
        spent = time.monotonic() - started
        if share < settled_share or spent >= limit_s:
            log(f"  JVM warm-up: {spent:.0f} s, compilers at {share:.0%} of a core in the last pass")
            return {"seconds": spent, "compiler_share": share, "settled": share < settled_share}
