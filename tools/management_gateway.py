"""A guard in front of TorchServe's management API: models register only from archives in the model store.

TorchServe 0.12 registers a model from any absolute directory path given as
`url` (POST /models?url=/some/dir), even outside the model store; its
`allowed_urls` setting only covers URLs (http, https, file). So whenever the
model API is switched on, tools.torchserve moves TorchServe's management API
onto a private Unix socket and runs this gateway on the configured
management address. It forwards every call unchanged (TorchServe still checks
the tokens) except registrations that name anything but an archive file in
the model store, or that pass parameters which could swap the handler code;
those get a 403 JSON error naming the problem.

    python -m tools.management_gateway --listen 127.0.0.1:8081 --upstream /tmp/x/api.sock --model-store model_store
"""

import argparse
import http.client
import http.server
import json
import re
import socket
import sys
import urllib.parse
from pathlib import Path

ARCHIVE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.mar")
# What a registration may set; `handler` and `runtime` are left out because
# they would run other code than the archive's.
REGISTRATION_PARAMETERS = frozenset({"url", "model_name", "initial_workers", "synchronous",
                                     "batch_size", "max_batch_delay", "response_timeout"})
# Connection-level headers belong to one hop, not to the forwarded request.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade", "content-length"})
# A synchronous registration waits until the new workers have loaded their model.
UPSTREAM_TIMEOUT_S = 600


def registration_problem(query: str, model_store: Path):
    """A POST /models query string → None when it registers an archive from the model store, else why not."""
    parameters = urllib.parse.parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(parameters) - REGISTRATION_PARAMETERS)
    if unknown:
        return (f"registration parameter(s) not allowed here: {', '.join(unknown)[:200]}; "
                f"allowed: {', '.join(sorted(REGISTRATION_PARAMETERS))}")
    urls = parameters.get("url", [])
    if len(urls) != 1:
        return "registration needs exactly one url: the file name of an archive in the model store"
    url = urls[0]
    if not ARCHIVE_NAME.fullmatch(url) or not (model_store / url).is_file():
        return ("url must be the file name of an archive in the model store, such as "
                f"digits_cnn.mar; got {url[:200]!r}")
    return None


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection over a Unix domain socket."""

    def __init__(self, socket_path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class Gateway(http.server.BaseHTTPRequestHandler):
    """Forwards each management call to TorchServe's socket, refusing unsafe registrations."""

    protocol_version = "HTTP/1.1"
    upstream = ""  # TorchServe's management socket
    model_store = Path()

    def forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = urllib.parse.urlsplit(self.path)
        resource = target.path.rstrip("/")
        if self.command == "POST" and resource == "/models":
            problem = registration_problem(target.query, self.model_store)
            if problem:
                return self.answer(403, "RegistrationRefused", problem)
        if self.command == "POST" and resource == "/workflows":
            return self.answer(403, "RegistrationRefused", "workflows are not served here")

        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        connection = UnixHTTPConnection(self.upstream, UPSTREAM_TIMEOUT_S)
        try:
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            status, reason, reply = response.status, response.reason, response.read()
            reply_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
        except OSError as error:
            return self.answer(502, "BadGateway", f"TorchServe's management API did not answer: {error}")
        finally:
            connection.close()
        self.send_response(status, reason)
        for key, value in reply_headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = forward

    def answer(self, status, kind, message):
        """Send a JSON error like TorchServe's own: {"code", "type", "message"}."""
        reply = json.dumps({"code": status, "type": kind, "message": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", required=True, help="host:port to serve on, e.g. 127.0.0.1:8081")
    parser.add_argument("--upstream", required=True, help="TorchServe's management Unix socket")
    parser.add_argument("--model-store", required=True, type=Path, help="the model store folder")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    Gateway.upstream = args.upstream
    Gateway.model_store = args.model_store.resolve()
    server = http.server.ThreadingHTTPServer((host, int(port)), Gateway)
    server.daemon_threads = True
    print(f"management gateway on {args.listen} → {args.upstream}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
