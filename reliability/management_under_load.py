"""Management under load: GET /models every 100 ms through the gateway while digits_cnn is under load, beside the same polls straight to TorchServe.

    python -m reliability.management_under_load             # 10 s idle, then 30 s at concurrency 48
    python -m reliability.management_under_load --dry-run   # 3 s idle, 5 s of load, figures not written

Starts a private TorchServe with the model API on, so its management API
sits on a private Unix socket behind tools/management_gateway.py, as
`python -m tools.serve start --model-api` runs it. Two pollers run side by
side, each sending GET /models on a new connection every 100 ms with a
timeout: one to the gateway, one to the Unix socket itself. They poll first
with no other traffic, then while clients keep digits_cnn busy with test
digits, each answer checked against the in-process one. The gap between the
two pollers is what the gateway adds. Exit status 0 only when every poll
got a 200 listing digits_cnn and every inference answer was right.
"""

import itertools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from harness.examples import calls_for, subject
from harness.load import Load, percentile
from harness.torchserve import private_server
from harness.torchserve import HTTP_TIMEOUT, bearer
from reliability.report import check_arguments, machine, ms, publish
from tools.management_gateway import UnixHTTPConnection

MODEL = subject("management under load")
POLL_INTERVAL_S = 0.1


def management_socket(server) -> str:
    """A server started with the model API on → the path of TorchServe's own management socket."""
    _, folder = server.gateway_pid_path.read_text().split(maxsplit=1)
    return str(Path(folder.strip()) / "api.sock")


def via_gateway(server):
    """→ a function that sends GET /models to the gateway on a new connection: (status, body)."""
    def get():
        response = requests.get(f"{server.management_url}/models",
                                headers=bearer(server.management_key()), timeout=HTTP_TIMEOUT)
        return response.status_code, response.content
    return get


def direct(server):
    """→ a function that sends GET /models to TorchServe's Unix socket, past the gateway: (status, body)."""
    path = management_socket(server)

    def get():
        connection = UnixHTTPConnection(path, HTTP_TIMEOUT)
        try:
            connection.request("GET", "/models", headers=bearer(server.management_key()))
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()
    return get


@dataclass
class Poller:
    """Calls `get` every POLL_INTERVAL_S from its own thread until stopped; records each poll."""

    get: object
    latencies: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def __post_init__(self):
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def poll(self):
        started = time.monotonic()
        try:
            status, body = self.get()
            problem = "" if status == 200 and MODEL.encode() in body else f"status {status}"
        except Exception as error:  # a timeout or a refused connection is a failed poll
            problem = f"{type(error).__name__}: {str(error)[:120]}"
        self.latencies.append(time.monotonic() - started)
        if problem:
            self.errors.append(problem)

    def run(self):
        # A fixed schedule: a slow answer delays the next poll, it does not shift all later ones.
        next_at = time.monotonic()
        while not self.stopping.is_set():
            self.poll()
            next_at += POLL_INTERVAL_S
            self.stopping.wait(max(0.0, next_at - time.monotonic()))

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join()
        return self


def poll_both(server, seconds, load=None) -> dict:
    """Poll the gateway and the socket for `seconds`, during `load` if given → {"gateway": Poller, "direct": Poller}."""
    pollers = {"gateway": Poller(via_gateway(server)), "direct": Poller(direct(server))}
    for poller in pollers.values():
        poller.start()
    if load is not None:
        load.run()
    else:
        time.sleep(seconds)
    return {name: poller.stop() for name, poller in pollers.items()}


def row(phase, path, poller) -> str:
    latencies = poller.latencies
    return (f"| {phase} | {path} | {len(latencies)} | {len(poller.errors)} | "
            f"{ms(percentile(latencies, 0.5))} | {ms(percentile(latencies, 0.99))} | "
            f"{ms(max(latencies, default=0))} |")


def main():
    parser = check_arguments(__doc__, concurrency=48,
                             seconds=(30.0, 5.0, "how long the load lasts"),
                             idle_seconds=(10.0, 3.0, "how long to poll before the load"))
    args = parser.parse_args()

    started_on = machine()
    good, _ = calls_for(MODEL)
    with private_server([MODEL], enable_model_api="true") as server:
        Load(server, good * 2, concurrency=4).run()  # warm-up, not counted
        idle = poll_both(server, args.idle_seconds)
        load = Load(server, itertools.cycle(good), concurrency=args.concurrency,
                    seconds=args.seconds)
        busy = poll_both(server, args.seconds, load)
        outcomes = load.outcomes
        workers = server.ready_workers(MODEL)

    wrong = [o for o in outcomes if not o.ok]
    p99 = {name: percentile(poller.latencies, 0.99) for name, poller in busy.items()}
    p50 = {name: percentile(poller.latencies, 0.5) for name, poller in busy.items()}
    lines = [
        (f"{MODEL}, {workers} worker(s), model API on: GET /models every "
         f"{POLL_INTERVAL_S * 1000:.0f} ms "
         f"on a new connection (timeout {HTTP_TIMEOUT} s), through the gateway and straight to "
         f"TorchServe's management socket side by side; {args.idle_seconds:g} s idle, then "
         f"{args.seconds:g} s with {args.concurrency} inference clients."),
        "",
        "| phase | management call | polls | errors | p50 | p99 | max |",
        "|---|---|---:|---:|---:|---:|---:|",
        row("idle", "gateway", idle["gateway"]),
        row("idle", "direct to TorchServe", idle["direct"]),
        row("under load", "gateway", busy["gateway"]),
        row("under load", "direct to TorchServe", busy["direct"]),
        "",
        (f"- inference during the load: {len(outcomes):,} requests, "
         f"{len(outcomes) / load.elapsed:,.0f} requests/s, {len(wrong)} wrong or failed, "
         f"p50 {ms(percentile([o.seconds for o in outcomes], 0.5))}, "
         f"p99 {ms(percentile([o.seconds for o in outcomes], 0.99))}"),
        (f"- under load, gateway ÷ direct: p50 {p50['gateway'] / max(p50['direct'], 1e-9):.2f}×, "
         f"p99 {p99['gateway'] / max(p99['direct'], 1e-9):.2f}× "
         f"(the gateway adds {ms(max(0.0, p50['gateway'] - p50['direct']))} at p50)"),
    ]
    errors = [e for poller in (*idle.values(), *busy.values()) for e in poller.errors]
    lines += [f"- poll error: {e}" for e in errors[:5]]
    lines += [f"- {o.call.model}: {o.problem} {o.message}" for o in wrong[:5]]
    publish("management", lines, started_on, write=not args.dry_run)
    return 0 if not errors and not wrong and outcomes else 1


if __name__ == "__main__":
    raise SystemExit(main())
