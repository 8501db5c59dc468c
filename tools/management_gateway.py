"""A guard in front of TorchServe's management API: the documented calls only, models only from archives in the model store.

TorchServe 0.12 registers a model from any absolute directory path given as
`url` (POST /models?url=/some/dir), even outside the model store; its
`allowed_urls` setting only covers URLs (http, https, file). So whenever the
model API is switched on, harness.torchserve moves TorchServe's management API
onto a private Unix socket and runs this gateway on the configured
management address. Each request is read the way TorchServe would read it
and either refused with a JSON error or rebuilt from its checked parts
(tools/management_policy.py); TorchServe still checks the key.

    python -m tools.management_gateway --listen 127.0.0.1:8081 --upstream /tmp/x/api.sock --model-store model_store
"""

import argparse
import http.client
import http.server
import io
import json
import re
import socket
import sys
import threading
import time
from pathlib import Path

from tools.management_policy import MAX_BODY_BYTES, Refusal, decide

# A synchronous registration or scaling waits until the workers have loaded their model.
UPSTREAM_TIMEOUT_S = 600
# A client has this long to start a request on an open connection (kept-alive ones included) ...
IDLE_TIMEOUT_S = 60
# ... and this long from its first byte to its last, so a slow sender cannot hold a thread.
REQUEST_TIMEOUT_S = 10
MAX_CONNECTIONS = 256  # served at once; beyond them a connection gets a 503 at once
LISTEN_BACKLOG = 512  # connections the kernel queues while every thread is busy accepting
MAX_HEADERS = 32
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Headers of one hop, never copied from TorchServe's reply.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade", "content-length"})


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection over a Unix domain socket."""

    def __init__(self, socket_path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class DeadlineReader(io.RawIOBase):
    """A client socket's bytes; each read waits only for what is left of the request's time."""

    def __init__(self, sock):
        self.sock = sock
        self.deadline = 0.0
        self.started = False  # whether the current request has sent its first byte

    def next_request(self):
        self.deadline, self.started = time.monotonic() + IDLE_TIMEOUT_S, False

    def readable(self):
        return True

    def readinto(self, buffer):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request took too long")
        self.sock.settimeout(left)
        count = self.sock.recv_into(buffer)
        if not self.started:
            self.started = True
            self.deadline = min(self.deadline, time.monotonic() + REQUEST_TIMEOUT_S)
        return count


class Gateway(http.server.BaseHTTPRequestHandler):
    """One client connection: each request refused with a JSON error or rebuilt and sent to TorchServe."""

    protocol_version = "HTTP/1.1"
    upstream = ""  # TorchServe's management socket
    model_store = Path()

    def setup(self):
        super().setup()
        self.reader = DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self.reader)

    def handle_one_request(self):
        """Read one request within its time limits and answer it (BaseHTTPRequestHandler's, any method)."""
        self.reader.next_request()
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                return self.send_error(414, "the request line is too long")
            if not self.parse_request():
                return
            if self.request_version not in ("HTTP/1.0", "HTTP/1.1"):
                return self.send_error(505, "only HTTP/1.0 and HTTP/1.1 are served")
            self.serve()
            self.wfile.flush()
        except (TimeoutError, ConnectionError) as error:
            self.log_error("connection dropped: %r", error)
            self.close_connection = True

    def serve(self):
        if len(self.headers) > MAX_HEADERS:
            return self.send_error(431, f"more than {MAX_HEADERS} headers")
        parts = self.requestline.split(" ")
        if len(parts) != 3:
            return self.send_error(400, "the request line must be METHOD SP TARGET SP VERSION")
        if not all(HEADER_NAME.fullmatch(name) for name in self.headers.keys()):
            return self.send_error(400, "a header name is not an HTTP token")
        body = self.read_body()
        if body is None:
            return
        # The target as sent: http.server folds a leading "//" into "/" in self.path.
        target = parts[1]
        try:
            request = decide(self.command, target, list(self.headers.items()), body,
                             self.model_store)
        except Refusal as refusal:
            return self.answer(refusal.status, refusal.kind, refusal.message)
        self.forward(request)

    def read_body(self):
        """The request's body by its Content-Length → bytes; None (after a JSON error) for any other framing."""
        if self.headers.get_all("Transfer-Encoding"):
            self.close_connection = True
            self.answer(400, "BadRequest", "Transfer-Encoding is not accepted: send a "
                        "Content-Length")
            return None
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1 or (lengths and not lengths[0].isdigit()) or \
                (lengths and not lengths[0].isascii()):
            self.close_connection = True
            self.answer(400, "BadRequest", "Content-Length must be given once, as digits")
            return None
        length = int(lengths[0]) if lengths else 0
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self.answer(413, "PayloadTooLarge", f"a management call's body is at most "
                        f"{MAX_BODY_BYTES} bytes")
            return None
        body = self.rfile.read(length)
        if len(body) != length:
            raise ConnectionError("the client closed before sending its whole body")
        return body

    def forward(self, request):
        connection = UnixHTTPConnection(self.upstream, UPSTREAM_TIMEOUT_S)
        try:
            connection.request(request.method, request.target, headers=dict(request.headers))
            response = connection.getresponse()
            status, reason, reply = response.status, response.reason, response.read()
            reply_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
        except (OSError, http.client.HTTPException) as error:
            return self.answer(502, "BadGateway", f"TorchServe's management API did not answer: "
                               f"{error}")
        finally:
            connection.close()
        self.connection.settimeout(REQUEST_TIMEOUT_S)
        self.send_response(status, reason)
        for key, value in reply_headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def answer(self, status, kind, message):
        """Send a JSON error like TorchServe's own: {"code", "type", "message"}."""
        reply = json.dumps({"code": status, "type": kind, "message": message}).encode()
        self.connection.settimeout(REQUEST_TIMEOUT_S)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply)

    def send_error(self, code, message=None, explain=None):
        """http.server's own refusals (bad request line, bad headers) as JSON too, closing the connection."""
        self.close_connection = True
        kinds = {400: "BadRequest", 414: "URITooLong", 431: "RequestHeaderFieldsTooLarge",
                 505: "HTTPVersionNotSupported"}
        self.answer(code, kinds.get(code, "BadRequest"), message or self.responses.get(code,
                                                                                     ("",))[0])


class GatewayServer(http.server.ThreadingHTTPServer):
    """A thread per connection, at most MAX_CONNECTIONS at once, with a deep listen backlog."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address, handler):
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            busy = json.dumps({"code": 503, "type": "ServiceUnavailable",
                               "message": "the management gateway is serving "
                                          f"{MAX_CONNECTIONS} connections; retry"}).encode()
            try:
                request.settimeout(1)
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json"
                                b"\r\nConnection: close\r\nContent-Length: "
                                + str(len(busy)).encode() + b"\r\n\r\n" + busy)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", required=True, help="host:port to serve on, e.g. 127.0.0.1:8081")
    parser.add_argument("--upstream", required=True, help="TorchServe's management Unix socket")
    parser.add_argument("--model-store", required=True, type=Path, help="the model store folder")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    Gateway.upstream = args.upstream
    Gateway.model_store = args.model_store.resolve()
    server = GatewayServer((host, int(port)), Gateway)
    print(f"management gateway on {args.listen} → {args.upstream}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
