"""Run and talk to a TorchServe process: its config, its key file, start, wait until READY, stop;
its management API; and private servers on free ports that always stop.

Used by `make serve` / `make stop` (tools.serve), the client, the checks, the
benchmark and the integration tests, so all start and probe the server the same
way. Every HTTP call has a timeout, and every failure is a ServerError.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from xml.etree import ElementTree

import psutil
import requests

from harness.archives import build_store
from harness.java import java_problem
from harness.settings import CHECKPOINTS, ROOT, archived_model_names

HTTP_TIMEOUT = 10  # seconds for any single call to the server
# TorchServe 0.12 always starts both gRPC servers; no setting turns them off.
# Bound to a multicast address they cannot be reached: Linux accepts the bind,
# refuses every TCP connect to such an address (ENETUNREACH) and drops SYNs
# sent to it from elsewhere (tcp_v4_conn_request).
CLOSED_ADDRESS = "224.0.0.1"
# How config.properties' vmargs names TorchServe's logging configuration (log4j2.xml).
LOG_CONFIG_ARGUMENT = "-Dlog4j.configurationFile="
# The logger of TorchServe's INFO line per answered job, which log4j2.xml turns off and
# largest_batch reads.
JOB_LOGGER = "org.pytorch.serve.wlm.BatchAggregator"
JOB_LINE = "Sending response for jobId"


SCALE_TIMEOUT_S = 180  # starting a worker loads torch and a checkpoint: seconds on a busy machine


class ServerError(RuntimeError):
    """TorchServe did not start, did not get ready, or refused a call: the message says what, in
    one line; `status` is the HTTP status it answered, `exit_status` what a command exits with."""

    def __init__(self, message, status=None, exit_status=1):
        super().__init__(message)
        self.status = status
        self.exit_status = exit_status


def read_properties(path) -> dict:
    """config.properties → {key: value}; comment and blank lines skipped."""
    properties = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, value = line.split("=", 1)
            properties[key.strip()] = value.strip()
    return properties


def write_properties(path, properties: dict):
    """{key: value} → a config.properties file."""
    Path(path).write_text("".join(f"{key}={value}\n" for key, value in properties.items()))


class KeyFile:
    """TorchServe's key_file.json: the current inference, management and API keys."""

    def __init__(self, path):
        self.path = Path(path)

    def read(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            raise ServerError(f"no key file at {self.path}: is TorchServe running from "
                              f"{self.path.parent}?") from None

    def key(self, kind) -> str:
        """"inference", "management" or "API" → that key."""
        return self.read()[kind]["key"]

    def expired(self, kind, margin_s=30) -> bool:
        """Whether the inference or management key expires within `margin_s` seconds."""
        stamp = self.read()[kind].get("expiration time")
        if not stamp:
            return False
        # Java writes nanoseconds; Python parses at most microseconds.
        head, _, fraction = stamp.rstrip("Z").partition(".")
        expires = datetime.fromisoformat(f"{head}.{(fraction or '0')[:6]}+00:00")
        return (expires - datetime.now(timezone.utc)).total_seconds() < margin_s

    def renew(self, management_url, kind):
        """Ask TorchServe's token API for a new inference or management key; it rewrites the file."""
        response = requests.get(f"{management_url}/token", params={"type": kind},
                                headers=bearer(self.key("API")), timeout=HTTP_TIMEOUT)
        if response.status_code != 200:
            raise ServerError(f"renewing the {kind} key failed: {response.status_code} "
                              f"{response.text.strip()}")
        return self.key(kind)

    def current(self, kind, management_url=None) -> str:
        """The key of `kind`, renewed first when it has expired and the management URL is known."""
        if kind != "API" and management_url and self.expired(kind):
            return self.renew(management_url, kind)
        return self.key(kind)


def bearer(key) -> dict:
    """A key → the Authorization header; no header for None (a server without token authorization)."""
    return {"Authorization": f"Bearer {key}"} if key is not None else {}


def stop_process_group(process, timeout_s=60):
    """SIGTERM a process we started in its own session, with its children; SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=timeout_s)
            return
        except subprocess.TimeoutExpired:
            continue


def stop_gateway(pid_path):
    """Stop the management gateway recorded in `pid_path` ("<pid> <socket folder>"), if it still
    runs, and remove its socket folder and the record."""
    try:
        pid, socket_folder = Path(pid_path).read_text().split(maxsplit=1)
    except (OSError, ValueError):
        return
    try:
        if "tools.management_gateway" in " ".join(psutil.Process(int(pid)).cmdline()):
            os.killpg(int(pid), signal.SIGTERM)
    except (OSError, ValueError, psutil.Error):
        pass
    shutil.rmtree(socket_folder, ignore_errors=True)
    Path(pid_path).unlink(missing_ok=True)


class TorchServe:
    """One TorchServe server: a working directory (logs, key file), a config, a model store."""

    def __init__(self, workdir, config_path, model_store=None, private_tmp=None, environment=None):
        self.workdir = Path(workdir).resolve()
        self.config_path = Path(config_path).resolve()
        self.properties = read_properties(self.config_path)
        store = model_store or self.properties.get("model_store", "model_store")
        self.model_store = (self.workdir / store).resolve()
        # TorchServe keeps its pid file, unpacked archives and worker sockets in
        # the temp directory; a private one lets several servers (say, tests
        # beside `make serve`) run at once without touching each other.
        self.private_tmp = Path(private_tmp).resolve() if private_tmp else None
        self.environment = dict(environment or {})  # variables the server starts with, beside ours
        self.inference_url = self.properties.get("inference_address", "http://127.0.0.1:8080")
        self.management_url = self.properties.get("management_address", "http://127.0.0.1:8081")
        self.metrics_url = self.properties.get("metrics_address", "http://127.0.0.1:8082")
        self.keys = KeyFile(self.workdir / "key_file.json")
        self.process = None
        self.gateway = None
        self.output_path = self.workdir / "logs" / "torchserve.out"
        self.gateway_pid_path = self.workdir / "logs" / "management_gateway.pid"

    @property
    def model_api_enabled(self) -> bool:
        return self.properties.get("enable_model_api", "false").strip().lower() == "true"

    # Process control

    def _env(self):
        env = {**os.environ, **self.environment}
        if self.private_tmp:
            env["TMPDIR"] = env["TEMP"] = str(self.private_tmp)
        # The worker Python must be this interpreter's, with its packages.
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        return env

    def _torchserve(self):
        found = shutil.which("torchserve", path=self._env()["PATH"])
        if not found:
            raise ServerError("torchserve not found; run 'make install'")
        return found

    def start(self):
        """Start TorchServe in its own session, writing its console output to logs/torchserve.out.

        With the model API on, TorchServe's management API moves to a private
        Unix socket and tools.management_gateway takes the configured address.
        """
        problem = java_problem()
        if problem:
            raise ServerError(problem)
        self.output_path.parent.mkdir(parents=True, exist_ok=True)
        config = self._start_gateway() if self.model_api_enabled else self.config_path
        command = [self._torchserve(), "--start", "--foreground", "--ncs",
                   "--ts-config", str(config), "--model-store", str(self.model_store)]
        with open(self.output_path, "ab") as output:
            self.process = subprocess.Popen(command, cwd=self.workdir, env=self._env(),
                                            stdout=output, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        return self

    def _start_gateway(self) -> Path:
        """Start the management gateway on the configured address → the config TorchServe runs with."""
        # A fresh 0700 folder: only this user can reach the socket, and the path
        # stays short enough for a Unix socket whatever the checkout's path.
        socket_path = Path(tempfile.mkdtemp(prefix="torchserve-management-")) / "api.sock"
        address = self.management_url.split("://", 1)[-1]
        command = [sys.executable, "-m", "tools.management_gateway", "--listen", address,
                   "--upstream", str(socket_path), "--model-store", str(self.model_store)]
        with open(self.workdir / "logs" / "management_gateway.out", "ab") as output:
            self.gateway = subprocess.Popen(command, cwd=Path(__file__).resolve().parent.parent,
                                            stdout=output, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self.gateway_pid_path.write_text(f"{self.gateway.pid} {socket_path.parent}")
        behind_gateway = self.workdir / "logs" / "config.behind-gateway.properties"
        # gRPC's RegisterModel would take any folder too, past the gateway: closed.
        write_properties(behind_gateway, {**self.properties,
                                          "management_address": f"unix:{socket_path}",
                                          "grpc_management_address": CLOSED_ADDRESS})
        return behind_gateway

    def grpc_management_problem(self):
        """With the model API on → why gRPC management is reachable, or None when nothing can connect."""
        port = int(self.properties.get("grpc_management_port", 7071))
        for host in {CLOSED_ADDRESS, "127.0.0.1",
                     self.properties.get("grpc_management_address", "127.0.0.1")}:
            try:
                socket.create_connection((host, port), timeout=2).close()
            except OSError:
                continue
            return (f"TorchServe's gRPC management API answers on {host}:{port}, where "
                    "RegisterModel would load any folder past the management gateway, and "
                    "TorchServe 0.12 cannot switch gRPC off; refusing to run with the model API "
                    f"on (this system did not refuse TCP connections to {CLOSED_ADDRESS})")
        return None

    def stop(self, timeout_s=60):
        """Stop the server this object started: SIGTERM to its process group, SIGKILL if it lingers."""
        for process in (self.process, self.gateway):
            if process is not None:
                stop_process_group(process, timeout_s)
        stop_gateway(self.gateway_pid_path)

    def alive(self) -> bool:
        return self.process is None or self.process.poll() is None

    # Probing

    def log_tail(self, lines=60) -> str:
        """The last lines of TorchServe's own logs, for error messages."""
        parts = []
        for path in (self.output_path, self.workdir / "logs" / "model_log.log"):
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path} (last {len(text)} lines) ---\n" + "\n".join(text))
        return "\n".join(parts) or f"(no logs under {self.workdir / 'logs'})"

    @property
    def token_authorization(self) -> bool:
        return self.properties.get("disable_token_authorization", "false").strip().lower() != "true"

    def management_key(self):
        """The management key, or None when the server checks no keys (the kserve bundle's)."""
        if not self.token_authorization:
            return None
        return self.keys.current("management", self.management_url)

    def inference_key(self):
        """The inference key, or None when the server checks no keys."""
        if not self.token_authorization:
            return None
        return self.keys.current("inference", self.management_url)

    def manage(self, method, path, timeout=HTTP_TIMEOUT, **params):
        """HTTP method and path of the management API, and its query parameters → the decoded
        JSON answer; raises ServerError naming the call and the answer."""
        url = f"{self.management_url}{path}"
        try:
            response = requests.request(method, url, params=params, timeout=timeout,
                                        headers=bearer(self.management_key()))
        except requests.RequestException as error:
            raise ServerError(f"{method} {url}: no answer ({type(error).__name__}); is the "
                              f"server running with this config?") from None
        if response.status_code not in (200, 202):  # 202: accepted, workers still starting
            hint = " (is enable_model_api=true?)" if response.status_code == 405 else ""
            raise ServerError(f"{method} {url}: {response.status_code} "
                              f"{' '.join(response.text.split())}{hint}", response.status_code)
        return response.json()

    def describe(self, model) -> list:
        """GET /models/<model> → TorchServe's description (one entry per version)."""
        return self.manage("GET", f"/models/{model}")

    def scale(self, model, count):
        """Run exactly `count` workers for `model`, waiting until they are up."""
        # TorchServe stops workers only above max_worker, so set both.
        self.manage("PUT", f"/models/{model}", timeout=SCALE_TIMEOUT_S, min_worker=count,
                    max_worker=count, synchronous="true")

    def predict(self, model, body, content_type, version=None, timeout=HTTP_TIMEOUT,
                route="predictions", headers=None, key=None) -> requests.Response:
        """One body to /<route>/<model>[/<version>] (route: predictions or explanations) with
        `key` (default: the current inference key) → the response, whatever its status; no
        Content-Type header when content_type is None."""
        url = f"{self.inference_url}/{route}/{model}" + (f"/{version}" if version else "")
        headers = {**(headers or {}), **bearer(self.inference_key() if key is None else key)}
        if content_type is not None:
            headers["Content-Type"] = content_type
        return requests.post(url, data=body, timeout=timeout, headers=headers)

    def ready_workers(self, model) -> int:
        return len(self.worker_pids(model))

    def worker_pids(self, model) -> list:
        """Model (or "model/version", "model/all") → the sorted pids of its READY workers."""
        return sorted(worker["pid"] for version in self.describe(model)
                      for worker in version.get("workers", []) if worker.get("status") == "READY")

    def log_mark(self) -> int:
        """→ how many lines TorchServe's log holds now: pass it to largest_batch as `since`."""
        return len(self.log_lines())

    def log_lines(self) -> list:
        return (self.workdir / "logs" / "ts_log.log").read_text().splitlines()

    def largest_batch(self, model, since=0) -> int:
        """The most requests one worker call of `model` has answered so far (after line `since`
        of TorchServe's log: a log_mark), read from TorchServe's log; the server must have been
        started with log_jobs=True (private_config)."""
        lines = self.log_lines()
        if not any(JOB_LINE in line for line in lines):
            raise ServerError("TorchServe's log holds no line per answered job: start the server "
                              "with log_jobs=True to read batch sizes from it")
        largest, batch = 0, set()
        for line in lines[since:]:
            if f"-{model}_" not in line:
                continue
            if JOB_LINE in line:
                batch.add(line.rsplit(" ", 1)[-1])
            elif "Backend response time" in line:
                largest, batch = max(largest, len(batch)), set()
        return largest

    def processes(self) -> list:
        """The server this object started → its launcher, Java frontend and Python workers."""
        launcher = psutil.Process(self.process.pid)
        return [launcher, *launcher.children(recursive=True)]

    def frontend(self) -> psutil.Process:
        """The server this object started → its Java frontend process."""
        return next(p for p in self.processes() if p.name() == "java")

    def wait_until_ready(self, models, timeout_s=120, poll_s=0.5):
        """Block until every model has all its workers READY; raises ServerError with the log tail."""
        deadline = time.monotonic() + timeout_s
        pending = list(models)
        last_problem = "no answer yet"
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServerError(f"TorchServe exited with code {self.process.returncode}\n"
                                  + self.log_tail())
            try:
                still = []
                for model in pending:
                    description = self.describe(model)
                    workers = [w for version in description for w in version.get("workers", [])]
                    wanted = max(version.get("minWorkers", 1) for version in description)
                    ready = sum(w.get("status") == "READY" for w in workers)
                    if ready < max(wanted, 1):
                        still.append(model)
                        last_problem = f"{model}: {ready} of {wanted} workers READY"
                pending = still
                if not pending:
                    break
            except (requests.RequestException, ServerError, ValueError) as error:
                last_problem = str(error)
            time.sleep(poll_s)
        else:
            raise ServerError(f"TorchServe was not ready after {timeout_s}s ({last_problem})\n"
                              + self.log_tail())
        problem = self.model_api_enabled and self.grpc_management_problem()
        if problem:
            raise ServerError(problem)


def free_ports(count) -> list:
    """`count` distinct free TCP ports on 127.0.0.1."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def with_log_config(vmargs, log_config=None) -> str:
    """config.properties' vmargs → the same JVM arguments, with the log4j configuration file
    they name made absolute from the repository root, or replaced by `log_config`."""
    words = []
    for word in vmargs.split():
        if word.startswith(LOG_CONFIG_ARGUMENT):
            path = Path(log_config or word[len(LOG_CONFIG_ARGUMENT):])
            word = LOG_CONFIG_ARGUMENT + str(path if path.is_absolute() else ROOT / path)
        words.append(word)
    if log_config and not any(word.startswith(LOG_CONFIG_ARGUMENT) for word in words):
        words.append(LOG_CONFIG_ARGUMENT + str(Path(log_config).resolve()))
    return " ".join(words)


def job_logging_config(folder) -> Path:
    """The repository's log4j2.xml with TorchServe's line per answered job back on, written to
    folder/log4j2.xml → its path. Tests that check requests shared a batch read those lines."""
    tree = ElementTree.parse(ROOT / "log4j2.xml")
    loggers = [logger for logger in tree.getroot().iter("Logger")
               if logger.get("name") == JOB_LOGGER]
    if len(loggers) != 1:
        raise ServerError(f"log4j2.xml has {len(loggers)} loggers named {JOB_LOGGER}, not one")
    loggers[0].set("level", "info")
    path = Path(folder) / "log4j2.xml"
    tree.write(path, encoding="UTF-8", xml_declaration=True)
    return path


def private_config(workdir, model_store, log_jobs=False, **overrides) -> Path:
    """The repository's config.properties with fresh loopback ports, the given model store and
    overrides, written to workdir/config.properties; with `log_jobs`, TorchServe logs a line
    per answered job, which largest_batch needs."""
    inference, management, metrics, grpc_inference, grpc_management = free_ports(5)
    properties = read_properties(ROOT / "config.properties")
    properties.update({
        "inference_address": f"http://127.0.0.1:{inference}",
        "management_address": f"http://127.0.0.1:{management}",
        "metrics_address": f"http://127.0.0.1:{metrics}",
        "grpc_inference_port": grpc_inference,
        "grpc_management_port": grpc_management,
        "model_store": str(model_store),
    })
    # The server starts in workdir, so a path relative to the repository must become absolute.
    if "metrics_config" in properties:
        properties["metrics_config"] = str(ROOT / properties["metrics_config"])
    properties["vmargs"] = with_log_config(properties.get("vmargs", ""),
                                           job_logging_config(workdir) if log_jobs else None)
    properties.update(overrides)
    path = Path(workdir) / "config.properties"
    write_properties(path, properties)
    return path


def start_private(workdir, model_store, ready_timeout_s=180, **overrides) -> TorchServe:
    """A TorchServe in `workdir` with its own temp dir and free ports, serving every archive in
    `model_store`, once all are READY; stops it again if they do not get there."""
    workdir = Path(workdir)
    (workdir / "tmp").mkdir(exist_ok=True)
    server = TorchServe(workdir, private_config(workdir, model_store, **overrides),
                        private_tmp=workdir / "tmp")
    server.start()
    try:
        server.wait_until_ready(archived_model_names(model_store), ready_timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


@contextmanager
def running_server(workdir, model_store, ready_timeout_s=180, **overrides):
    """start_private as a context: the server once READY; its log tail printed when the body
    fails, and stopped whatever happens."""
    server = start_private(workdir, model_store, ready_timeout_s, **overrides)
    try:
        yield server
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        server.stop()


@contextmanager
def private_server(models, checkpoints=CHECKPOINTS, version=None, model_format=None,
                   model_config=None, ready_timeout_s=180, **overrides):
    """Models → a private TorchServe serving their archives, built by build_store (with its
    version, format and `model_config` setting overrides) in a temp dir, with config.properties
    `overrides`; stopped after, with its log tail printed on failure."""
    with tempfile.TemporaryDirectory(prefix="torchserve-") as folder:
        store = build_store(Path(folder) / "model_store", models, checkpoints, version,
                            model_format, model_config)
        (Path(folder) / "server").mkdir()
        with running_server(Path(folder) / "server", store, ready_timeout_s, **overrides) as server:
            yield server
