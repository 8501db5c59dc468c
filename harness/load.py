"""The load generator: send calls at a fixed concurrency and record every answer's status, latency and correctness.

Each client thread keeps one HTTP connection and sends one call at a time,
with a timeout, so `concurrency` is the number of requests in flight.
"""

import json
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Optional

import requests

from harness.torchserve import HTTP_TIMEOUT, bearer

KEY_REFRESH_S = 10  # re-read the key file this often: keys expire and can be rotated


@dataclass(frozen=True)
class Call:
    """One request to send, and the answer it must get."""

    model: str
    body: bytes
    content_type: str
    status: int = 200
    answer: Any = None  # the expected JSON body; None accepts any body
    tolerance: float = 0.0  # how far each number in the answer may be from the expected one


@dataclass
class Outcome:
    """What one call got: status (None when no HTTP answer came), timing, and what was wrong."""

    call: Call
    started: float  # time.monotonic() when sent
    seconds: float  # until the answer, the timeout or the connection error
    status: Optional[int]
    problem: str  # "" when status and answer are the expected ones
    message: str = ""  # the start of the body when the status was not the expected one

    @property
    def ok(self) -> bool:
        return not self.problem

    @property
    def finished(self) -> float:
        return self.started + self.seconds


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def difference(expected, got, tolerance=0.0, where="answer") -> str:
    """Two decoded JSON values → "" when equal (numbers within `tolerance`), else where they differ."""
    if is_number(expected) and is_number(got):
        # The slack absorbs binary rounding of 4-decimal numbers (0.9877 - 0.9876 > 1e-4).
        close = abs(expected - got) <= tolerance * (1 + 1e-9)
        return "" if close else f"{where}: {got} ≠ {expected}"
    if type(expected) is not type(got):
        return f"{where}: {got!r:.80} where {expected!r:.80} was expected"
    if isinstance(expected, dict):
        if expected.keys() != got.keys():
            return f"{where}: fields {sorted(got)} where {sorted(expected)} were expected"
        return next((d for k in expected
                     if (d := difference(expected[k], got[k], tolerance, f"{where}.{k}"))), "")
    if isinstance(expected, list):
        if len(expected) != len(got):
            return f"{where}: {len(got)} items where {len(expected)} were expected"
        return next((d for i, (e, g) in enumerate(zip(expected, got))
                     if (d := difference(e, g, tolerance, f"{where}[{i}]"))), "")
    return "" if expected == got else f"{where}: {got!r:.80} ≠ {expected!r:.80}"


def judge(call: Call, status: int, body: bytes) -> str:
    """A call and the HTTP answer it got → "" when right, else what was wrong."""
    if status != call.status:
        return f"status {status} where {call.status} was expected"
    if call.answer is None:
        return ""
    try:
        got = json.loads(body)
    except ValueError:
        return f"answer is not JSON: {body[:80]!r}"
    return difference(call.answer, got, call.tolerance)


class FreshKey:
    """The server's current inference key, re-read from its key file every KEY_REFRESH_S seconds."""

    def __init__(self, server):
        self.server = server
        self.lock = threading.Lock()
        self.key, self.read_at = None, 0.0

    def __call__(self) -> str:
        with self.lock:
            if self.key is None or time.monotonic() - self.read_at > KEY_REFRESH_S:
                self.key, self.read_at = self.server.inference_key(), time.monotonic()
            return self.key


class Load:
    """`concurrency` clients sending `calls` until they run out, `seconds` pass, or stop() is called.

    `server` is a harness.torchserve.TorchServe (its inference URL and key file).
    """

    def __init__(self, server, calls: Iterable[Call], concurrency=32, timeout_s=HTTP_TIMEOUT,
                 seconds=None):
        self.url = server.inference_url
        self.key = FreshKey(server)
        self.calls = iter(calls)
        self.concurrency, self.timeout_s, self.seconds = concurrency, timeout_s, seconds
        self.outcomes = []  # list.append is atomic, so the clients share it without a lock
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = []
        self.started = self.finished = None

    def next_call(self) -> Optional[Call]:
        with self.lock:
            if self.stopping.is_set() or (self.seconds is not None and
                                          time.monotonic() - self.started >= self.seconds):
                return None
            return next(self.calls, None)

    def send(self, session, call: Call) -> Outcome:
        """One call → its Outcome; a timeout or connection error is an outcome too, never an exception."""
        url = f"{self.url}/predictions/{call.model}"
        headers = {"Content-Type": call.content_type, **bearer(self.key())}
        started = time.monotonic()
        try:
            response = session.post(url, data=call.body, headers=headers, timeout=self.timeout_s)
        except requests.RequestException as error:
            return Outcome(call, started, time.monotonic() - started, None,
                           f"no answer: {type(error).__name__}", str(error)[:200])
        seconds = time.monotonic() - started
        problem = judge(call, response.status_code, response.content)
        message = response.text[:200] if response.status_code != call.status else ""
        return Outcome(call, started, seconds, response.status_code, problem, message)

    def client(self):
        with requests.Session() as session:
            while (call := self.next_call()) is not None:
                self.outcomes.append(self.send(session, call))

    def start(self) -> "Load":
        self.started = time.monotonic()
        self.threads = [threading.Thread(target=self.client, daemon=True)
                        for _ in range(self.concurrency)]
        for thread in self.threads:
            thread.start()
        return self

    def stop(self):
        self.stopping.set()

    def wait(self) -> list:
        """Block until every client is done → the outcomes, in the order the answers came."""
        for thread in self.threads:
            thread.join()
        self.finished = time.monotonic()
        return self.outcomes

    def run(self) -> list:
        return self.start().wait()

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started


def percentile(values, share) -> float:
    """Values and a share in 0..1 → the nearest-rank percentile (0.0 when there are none)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]
