"""Where a busy worker spends its time: py-spy samples of one worker process under load → shares.

Each sample is one stack of the worker's Python threads, idle ones
included. A sample counts for the first handler step on its stack (decode,
preprocess, inference, postprocess under handlers/, a whole batch's
preprocess_batch and postprocess_batch included), else as waiting for the
frontend when it sits in TorchServe's message read, else as the worker's own
protocol work (unpacking requests, packing answers, metrics, logging).
"""

import collections
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.compute import STEPS

RATE = 200  # samples per second


def py_spy() -> str:
    """The py-spy next to this interpreter, or on PATH; None when not installed."""
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def record(pid, seconds) -> subprocess.Popen:
    """Start sampling `pid` for `seconds` (whole, at least 1) → the py-spy process; its .raw_path
    holds the stacks."""
    raw_path = Path(tempfile.mkstemp(prefix="py-spy-", suffix=".txt")[1])
    process = subprocess.Popen([py_spy(), "record", "--pid", str(pid),
                                "--duration", str(whole_seconds(seconds)),
                                "--rate", str(RATE), "--format", "raw", "--idle", "--nonblocking",
                                "--output", str(raw_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    process.raw_path = raw_path
    return process


def whole_seconds(seconds) -> int:
    """py-spy takes whole seconds."""
    return max(1, math.ceil(seconds))


def bucket(frames) -> str:
    """One sampled stack, outermost frame first → the part of the worker's work it belongs to."""
    for frame in frames:
        name, _, where = frame.partition(" (")
        step = name.rsplit(".", 1)[-1].removesuffix("_batch")  # preprocess_batch is preprocess
        if where.startswith("handlers/") and step in STEPS:
            return step
    if any(marker in frame for frame in frames for marker in ("retrieve_msg", "recv", "select")):
        return "waiting for the frontend"
    return "worker protocol and other"


def shares(process, timeout_s=60) -> dict:
    """A finished record() → {"samples", "buckets": {part: share}, "top": [[leaf frame, share], …]}."""
    _, errors = process.communicate(timeout=timeout_s)
    text = process.raw_path.read_text() if process.raw_path.exists() else ""
    process.raw_path.unlink(missing_ok=True)
    buckets, leaves, total = collections.Counter(), collections.Counter(), 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        buckets[bucket(frames)] += int(count)
        leaves[frames[-1].split(":")[0] + ")"] += int(count)
        total += int(count)
    if not total:
        return {"samples": 0, "error": errors.decode(errors="replace")[-500:]}
    return {"samples": total,
            "buckets": {name: count / total for name, count in buckets.most_common()},
            "top": [[frame, count / total] for frame, count in leaves.most_common(8)]}
