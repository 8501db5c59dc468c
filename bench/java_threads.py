"""A JVM's threads and the CPU each has spent, from /proc, with their Java names where jstack can
give them.

Linux cuts a thread's name to 15 characters, so TorchServe's thread that feeds a worker
("W-9000-sentiment_rnn_1.0") and the one that reads that worker's output
("W-9000-sentiment_rnn_1.0-stdout") look alike in /proc; jstack (part of a JDK, not of a JRE)
prints each Java thread's whole name beside its Linux thread id.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
JSTACK_TIMEOUT_S = 60
# A jstack thread line: "name" #12 daemon prio=5 os_prio=0 cpu=… tid=0x… nid=0x1f2e runnable
JSTACK_THREAD = re.compile(r'^"(?P<name>[^"]*)".*\bnid=(?P<nid>0x[0-9a-fA-F]+)')


def thread_seconds(pid):
    """A process id → {Linux thread id: (name in /proc, CPU seconds so far)}; None where /proc
    does not list threads (not Linux) or the process is gone. Threads that end meanwhile are
    left out."""
    tasks = Path(f"/proc/{pid}/task")
    if not tasks.is_dir():
        return None
    found = {}
    for task in tasks.iterdir():
        try:
            name = (task / "comm").read_text().strip()
            # Fields after the command name's closing parenthesis; utime and stime are 14 and 15.
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            found[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND)
        except (OSError, IndexError, ValueError):
            continue
    return found


def parse_jstack(text) -> dict:
    """jstack's output → {Linux thread id: Java thread name}."""
    return {int(match["nid"], 16): match["name"]
            for match in map(JSTACK_THREAD.match, text.splitlines()) if match}


def java_names(pid) -> dict:
    """A JVM's pid → {Linux thread id: Java thread name} from jstack; {} without a JDK's jstack
    or when it cannot attach."""
    jstack = shutil.which("jstack")
    if not jstack:
        return {}
    try:
        done = subprocess.run([jstack, str(pid)], capture_output=True, text=True,
                              timeout=JSTACK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return parse_jstack(done.stdout) if done.returncode == 0 else {}
