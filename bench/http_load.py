"""Requests at a fixed concurrency for a fixed time → one checked Outcome per answer.

One asyncio process keeps `concurrency` requests in flight, each client on a kept-alive
HTTP/1.1 connection of its own. On a 2-core machine the load generator shares the CPU with
the server it measures, so it does as little as it can per request: the request's bytes are
built once per call and key, a reply is parsed only as far as its status line, its
Content-Length (or chunks) and its body, and a body already judged for a call is not parsed
again (identical bytes get an identical verdict). An HTTP client library spent about three
times as much CPU per request here.

Calls, the check of each answer and the Outcome records are harness.load's, so a request
counts as served only when its status and body are the expected ones. A request not answered
within `timeout_s` is an outcome too ("no answer: timeout"); its connection is closed and the
client carries on with a new one.
"""

import asyncio
import itertools
import time
from urllib.parse import urlsplit

from harness.load import Outcome, judge
from harness.torchserve import HTTP_TIMEOUT

VERDICTS_KEPT = 4096  # judged (call, status, body) triples remembered; beyond, bodies are judged afresh
WATCH_EVERY_S = 0.25  # how often overdue requests are looked for


class ReplyError(Exception):
    """The connection closed or sent something that is not an HTTP/1.1 reply."""


class Connection(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection that carries one request at a time."""

    def __init__(self):
        self.transport = None
        self.buffer = bytearray()
        self.waiting = None  # the future of the request in flight
        self.sent_at = 0.0
        self.head_end = -1  # where the reply's headers end in the buffer, once found
        self.length = None  # the body's length, None while unknown or for a chunked reply
        self.chunked = False
        self.keep_alive = True
        self.status = None

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, error):
        self.transport = None
        self._fail(ReplyError(f"connection closed{f': {error}' if error else ''}"))

    def _fail(self, error):
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_exception(error)

    def send(self, data: bytes) -> asyncio.Future:
        self.buffer.clear()
        self.head_end, self.length, self.chunked = -1, None, False
        self.waiting = asyncio.get_running_loop().create_future()
        self.sent_at = time.monotonic()
        self.transport.write(data)
        return self.waiting

    def data_received(self, data):
        self.buffer += data
        try:
            reply = self._reply()
        except (ValueError, IndexError) as error:
            self._fail(ReplyError(f"unreadable reply: {error}"))
            self.close()
            return
        if reply is not None and self.waiting is not None and not self.waiting.done():
            self.waiting.set_result(reply)

    def _reply(self):
        """→ (status, body) once the buffer holds a whole reply, else None."""
        if self.head_end < 0:
            self.head_end = self.buffer.find(b"\r\n\r\n")
            if self.head_end < 0:
                return None
            head = bytes(self.buffer[:self.head_end]).lower()
            self.status = int(head[9:12])
            self.keep_alive = b"\r\nconnection: close" not in head
            self.chunked = b"\r\ntransfer-encoding: chunked" in head
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                end = head.find(b"\r\n", at + 2)
                self.length = int(head[at + 17:end if end >= 0 else len(head)])
            elif not self.chunked:
                raise ValueError("a reply with neither Content-Length nor chunks")
        start = self.head_end + 4
        if self.chunked:
            return self._chunked_body(start)
        if len(self.buffer) < start + self.length:
            return None
        return self.status, bytes(self.buffer[start:start + self.length])

    def _chunked_body(self, position):
        body = bytearray()
        while True:
            line_end = self.buffer.find(b"\r\n", position)
            if line_end < 0:
                return None
            size = int(bytes(self.buffer[position:line_end]).split(b";")[0], 16)
            if size == 0:
                return (self.status, bytes(body)) if self.buffer.find(b"\r\n\r\n", line_end) >= 0 \
                    else None
            if len(self.buffer) < line_end + 2 + size + 2:
                return None
            body += self.buffer[line_end + 2:line_end + 2 + size]
            position = line_end + 2 + size + 2

    def overdue(self, now, timeout_s) -> bool:
        return self.waiting is not None and not self.waiting.done() and \
            now - self.sent_at > timeout_s

    def close(self):
        if self.transport is not None:
            self.transport.close()


class Client:
    """One client: its connection (opened again when lost) and the bytes of each call it sends."""

    def __init__(self, url_for, headers):
        self.url_for, self.headers = url_for, headers
        self.connection = None
        self.requests = {}  # (call index, key headers) → the request's bytes

    def request_bytes(self, index, call) -> tuple:
        """A call → ((host, port), the whole HTTP/1.1 request as bytes)."""
        extra = tuple(sorted(self.headers().items()))
        found = self.requests.get((index, extra))
        if found is None:
            url = urlsplit(self.url_for(call))
            lines = [f"POST {url.path or '/'}{'?' + url.query if url.query else ''} HTTP/1.1",
                     f"Host: {url.netloc}", f"Content-Type: {call.content_type}",
                     f"Content-Length: {len(call.body)}",
                     *(f"{name}: {value}" for name, value in extra)]
            found = ((url.hostname, url.port or 80),
                     ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + call.body)
            if len(self.requests) > 64:  # keys rotate: keep only recent ones
                self.requests.clear()
            self.requests[(index, extra)] = found
        return found

    async def send(self, index, call) -> tuple:
        address, data = self.request_bytes(index, call)
        if self.connection is None or self.connection.transport is None:
            _, self.connection = await asyncio.get_running_loop().create_connection(
                Connection, *address)
        reply = await self.connection.send(data)
        if not self.connection.keep_alive:
            self.connection.close()
            self.connection = None
        return reply


async def _client(client, numbered_calls, deadline, verdicts, outcomes):
    """Send the next call as soon as the last one was answered, until the deadline."""
    for index, call in numbered_calls:
        if time.monotonic() >= deadline:
            return
        started = time.monotonic()
        try:
            status, body = await client.send(index, call)
        except (OSError, ReplyError) as error:
            if client.connection is not None:
                client.connection.close()
                client.connection = None
            outcomes.append(Outcome(call, started, time.monotonic() - started, None,
                                    f"no answer: {type(error).__name__}", str(error)[:200]))
            continue
        seconds = time.monotonic() - started
        key = (index, status, body)
        problem = verdicts.get(key)
        if problem is None:
            problem = judge(call, status, body)
            if len(verdicts) < VERDICTS_KEPT:
                verdicts[key] = problem
        message = body[:200].decode(errors="replace") if status != call.status else ""
        outcomes.append(Outcome(call, started, seconds, status, problem, message))


async def _watch(clients, timeout_s):
    """Close the connection of any request unanswered after timeout_s: its client gets a
    "timeout" outcome and opens a new connection."""
    while True:
        await asyncio.sleep(WATCH_EVERY_S)
        now = time.monotonic()
        for client in clients:
            connection = client.connection
            if connection is not None and connection.overdue(now, timeout_s):
                connection._fail(ReplyError(f"timeout: no answer within {timeout_s} s"))
                connection.close()


async def _load(url_for, calls, concurrency, seconds, headers, timeout_s):
    outcomes, verdicts = [], {}
    numbered = list(enumerate(calls))
    clients = [Client(url_for, headers) for _ in range(concurrency)]
    watcher = asyncio.ensure_future(_watch(clients, timeout_s))
    started = time.monotonic()
    deadline = started + seconds
    try:
        # Each client starts at its own place in the list, so a mixed list stays mixed.
        await asyncio.gather(*(
            _client(client, itertools.islice(itertools.cycle(numbered), index, None), deadline,
                    verdicts, outcomes)
            for index, client in enumerate(clients)))
    finally:
        elapsed = time.monotonic() - started
        watcher.cancel()
        for client in clients:
            if client.connection is not None:
                client.connection.close()
    return outcomes, elapsed


def run_load(url_for, calls, concurrency, seconds, headers=dict, timeout_s=HTTP_TIMEOUT):
    """URL of a call, calls to cycle through, requests in flight, seconds, auth headers →
    (outcomes in the order answered, seconds from the first request to the last answer)."""
    return asyncio.run(_load(url_for, list(calls), concurrency, seconds, headers, timeout_s))
