"""bench/http_load.py, the benchmark's load generator, against a real socket server that answers
as told: bodies by Content-Length or in chunks, split across packets, connections closed after a
reply, and replies that never come."""

import json
import socketserver
import threading
import time

import pytest

from bench.http_load import run_load
from harness.load import Call

ANSWER = {"label": 3, "probabilities": [0.1, 0.9]}


class Replies(socketserver.StreamRequestHandler):
    """Reads each request (headers and Content-Length body) and answers as the server's `mode` says."""

    def handle(self):
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                byte = self.rfile.read(1)
                if not byte:
                    return
                head += byte
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            body = self.rfile.read(length)
            self.server.seen.append((head, body))
            mode = self.server.mode
            answer = json.dumps(ANSWER).encode()
            if mode == "silent":
                time.sleep(5)
                return
            if mode == "chunked":
                reply = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         + b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                                    for part in (answer[:7], answer[7:])) + b"0\r\n\r\n")
            else:
                status = b"400 Bad Request" if mode == "refuse" else b"200 OK"
                closing = b"Connection: close\r\n" if mode == "close" else b""
                reply = (b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                         + closing + b"Content-Length: %d\r\n\r\n" % len(answer) + answer)
            # In two packets, the cut inside the headers: the reader must wait for the rest.
            self.wfile.write(reply[:20])
            self.wfile.flush()
            time.sleep(0.001)
            self.wfile.write(reply[20:])
            self.wfile.flush()
            if mode == "close":
                return


@pytest.fixture
def server():
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Replies) as running:
        running.daemon_threads = True
        running.seen, running.mode = [], "length"
        thread = threading.Thread(target=running.serve_forever, daemon=True)
        thread.start()
        yield running
        running.shutdown()


def load(server, seconds=0.3, concurrency=4, timeout_s=10, calls=None):
    calls = calls or [Call("m", b'{"x": 1}', "application/json", 200, ANSWER)]
    url_for = lambda call: f"http://127.0.0.1:{server.server_address[1]}/predictions/{call.model}"
    return run_load(url_for, calls, concurrency, seconds, lambda: {"Authorization": "Bearer k"},
                    timeout_s)


@pytest.mark.parametrize("mode", ["length", "chunked", "close"])
def test_every_answer_is_read_whole_and_judged_right(server, mode):
    server.mode = mode
    outcomes, elapsed = load(server)
    assert len(outcomes) > 10 and elapsed > 0
    assert all(outcome.ok for outcome in outcomes), {o.problem for o in outcomes}
    head, body = server.seen[0]
    assert head.startswith(b"POST /predictions/m HTTP/1.1\r\n") and body == b'{"x": 1}'
    assert b"\r\nAuthorization: Bearer k\r\n" in head
    assert b"\r\nContent-Type: application/json\r\n" in head


def test_a_wrong_answer_is_counted_wrong_every_time(server):
    wanted = Call("m", b"{}", "application/json", 200, {"label": 4, "probabilities": [0.1, 0.9]})
    outcomes, _ = load(server, calls=[wanted])
    assert outcomes and not any(outcome.ok for outcome in outcomes)
    assert {outcome.problem for outcome in outcomes} == {"answer.label: 3 ≠ 4"}
    server.mode = "refuse"
    outcomes, _ = load(server)
    assert {outcome.status for outcome in outcomes} == {400}
    assert all(outcome.problem.startswith("status 400") and outcome.message for outcome in outcomes)


def test_an_unanswered_request_is_a_timeout_outcome_not_a_hang(server):
    server.mode = "silent"
    started = time.monotonic()
    outcomes, _ = load(server, seconds=0.1, concurrency=2, timeout_s=0.5)
    assert time.monotonic() - started < 3
    assert len(outcomes) == 2
    assert all(o.status is None and o.problem.startswith("no answer") and "timeout" in o.message
               for o in outcomes)
