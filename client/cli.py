"""`python -m client COMMAND …`: talk to the project's TorchServe with the addresses of its config and the keys it wrote.

Exit status: 0 done; 1 the server answered with an error; 2 bad arguments or
a local problem (no such file, no config); 3 no answer (server down, or
slower than --timeout); 4 the key file is missing or its key was refused.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from client.prometheus import parse, summary
from client.request_body import BodyError, request_body
from client.server import NO_ANSWER, USAGE, Server, pretty
from harness.settings import ROOT
from harness.store import manifest, place_in_store
from harness.torchserve import HTTP_TIMEOUT, ServerError

# Starting or stopping a worker loads torch and a checkpoint: seconds, or
# tens of seconds on a busy machine.
WAIT_S = 180
POLL_S = 0.5


def predict(server, args):
    """POST a file, stdin, JSON or text to /predictions (or /explanations) → the answer as indented JSON."""
    try:
        body, content_type = request_body(args.input, args.content_type)
    except BodyError as error:
        raise ServerError(str(error), exit_status=USAGE) from None
    route = "explanations" if args.explain else "predictions"
    path = f"/{route}/{args.model}" + (f"/{args.version}" if args.version else "")
    response = server.call("inference", "POST", path, data=body,
                           headers={"Content-Type": content_type})
    print(pretty(response.content))


def models(server) -> list:
    """GET /models, every page → the registered model names."""
    names, token = [], None
    while True:
        page = server.call("management", "GET", "/models",
                           params={"limit": 100, **({"next_page_token": token} if token else {})})
        page = page.json()
        names += [entry["modelName"] for entry in page.get("models", [])]
        token = page.get("nextPageToken")
        if not token:
            return names


def describe(server, model) -> tuple:
    """A model → (its default version, the description of every version)."""
    default = server.call("management", "GET", f"/models/{model}").json()[0]["modelVersion"]
    return default, server.call("management", "GET", f"/models/{model}/all").json()


def worker_line(worker) -> str:
    device = f"gpu {worker.get('gpuUsage', '')}".strip() if worker.get("gpu") else "cpu"
    return (f"    worker {worker['id']}  {worker['status']:<9} pid {worker.get('pid', '?')}  "
            f"{device}  since {worker.get('startTime', '?')}")


def version_lines(description, default) -> list:
    """One version's description → lines: settings, queue, then each worker."""
    workers = description.get("workers", [])
    ready = sum(w.get("status") == "READY" for w in workers)
    queue = description.get("jobQueueStatus", {})
    mark = " (default)" if description["modelVersion"] == default else ""
    settings = description.get
    return [
        f"{settings('modelName')} {settings('modelVersion')}{mark}  {settings('modelUrl', '')}",
        (f"  workers: {ready} READY of {len(workers)} (min {settings('minWorkers')}, "
         f"max {settings('maxWorkers')})"),
        (f"  batching: up to {settings('batchSize')} requests, waiting at most "
         f"{settings('maxBatchDelay')} ms; response timeout {settings('responseTimeout')} s"),
        (f"  queue: {queue.get('pendingRequests', '?')} waiting, room for "
         f"{queue.get('remainingCapacity', '?')}"),
        *(worker_line(worker) for worker in workers),
    ]


def status(server, args):
    """Every model (or one) → its versions, worker states, batching and queue."""
    described = [(model, *describe(server, model))
                 for model in ([args.model] if args.model else models(server))]
    if args.json:
        print(json.dumps({model: versions for model, _, versions in described}, indent=2))
        return
    if not described:
        print("no models registered")
    for _, default, versions in described:
        for description in versions:
            print("\n".join(version_lines(description, default)))


def versions(server, args):
    """A model → one line per registered version: default mark, READY workers, archive."""
    default, described = describe(server, args.model)
    for description in described:
        workers = description.get("workers", [])
        ready = sum(w.get("status") == "READY" for w in workers)
        mark = "default" if description["modelVersion"] == default else ""
        print(f"{args.model}  {description['modelVersion']:<8} {mark:<7}  "
              f"{ready} of {len(workers)} worker(s) READY  {description.get('modelUrl', '')}")


def scale(server, args):
    """Set a model's workers to exactly N (min_worker = max_worker = N) → its workers, once started or stopped."""
    if args.workers < 0:
        raise ServerError("--workers must be 0 or more", exit_status=USAGE)
    path = f"/models/{args.model}" + (f"/{args.version}" if args.version else "")
    answer = server.call("management", "PUT", path, timeout=args.wait,
                         params={"min_worker": args.workers, "max_worker": args.workers,
                                 "synchronous": "true"})
    print(message_of(answer))
    default, described = describe(server, args.model)
    for description in described:
        if description["modelVersion"] == (args.version or default):
            print("\n".join(version_lines(description, default)))


def archive_name(server, archive) -> tuple:
    """A .mar path or a file name in the model store → (name in the store, model, version)."""
    path = Path(archive)
    if not path.is_file() and path.name == archive:
        path = server.model_store / archive
    if path.suffix != ".mar" or not path.is_file():
        raise ServerError(f"no archive at {archive} (nor in the model store {server.model_store}); "
                          "build one with ./archive.sh --version X --model-store DIR MODEL", exit_status=USAGE)
    try:
        model, version = manifest(path)
        return place_in_store(path, server.model_store, model, version), model, version
    except (ServerError, OSError) as error:
        raise ServerError(str(error), exit_status=USAGE) from None


def register(server, args):
    """An archive → its model version registered from the model store, once its workers are READY."""
    name, model, version = archive_name(server, args.archive)
    # Asynchronous, then polled: a synchronous registration holds one of the
    # frontend's network threads (and the inference requests it serves) until
    # the workers are up (see reliability/upgrade.py).
    answer = server.call("management", "POST", "/models",
                         params={"url": name, "initial_workers": args.workers,
                                 "synchronous": "false"})
    print(message_of(answer))
    deadline = time.monotonic() + args.wait
    while True:
        description = server.call("management", "GET", f"/models/{model}/{version}").json()[0]
        ready = sum(w.get("status") == "READY" for w in description.get("workers", []))
        if ready >= args.workers:
            break
        if time.monotonic() > deadline:
            raise ServerError(f"{model} {version} is registered but has {ready} of {args.workers} "
                              f"worker(s) READY after {args.wait:g} s; see the server's "
                              "logs/model_log.log", exit_status=NO_ANSWER)
        time.sleep(POLL_S)
    default = server.call("management", "GET", f"/models/{model}").json()[0]["modelVersion"]
    print(f"{model} {version}: {ready} worker(s) READY at /predictions/{model}/{version}; "
          + ("it is the default" if version == default else
             f"the default is still {default}: python -m client set-default {model} {version}"))


def set_default(server, args):
    """Make a registered version the one /predictions/MODEL answers with."""
    answer = server.call("management", "PUT", f"/models/{args.model}/{args.version}/set-default")
    print(message_of(answer))


def unregister(server, args):
    """Remove one version of a model (TorchServe refuses the default while others remain)."""
    try:
        answer = server.call("management", "DELETE", f"/models/{args.model}/{args.version}",
                             timeout=args.wait)
    except ServerError as error:
        if "default version" in str(error):
            raise ServerError(f"{error}; make another version the default first "
                              f"(python -m client set-default {args.model} VERSION)") from None
        raise
    print(message_of(answer))


def metrics(server, args):
    """Scrape the metrics API → every sample grouped by model, or the raw text with --raw."""
    text = server.call("metrics", "GET", "/metrics").text
    if args.raw:
        print(text, end="")
        return
    try:
        parsed = parse(text)
    except ValueError as error:
        raise ServerError(f"the metrics at {server.urls['metrics']} are not Prometheus text: "
                          f"{error}") from None
    lines = summary(parsed, args.model)
    if not lines:
        raise ServerError(f"no samples for model {args.model}; TorchServe reports a model once "
                          "it has answered a request")
    print("counter: total since the server started; gauge: the latest value\n")
    print("\n".join(lines))


def message_of(response) -> str:
    """A management answer → its "status" sentence, or the body as it came."""
    try:
        return " ".join(str(response.json()["status"]).split())
    except (ValueError, KeyError, TypeError):
        return pretty(response.content)


def parser() -> argparse.ArgumentParser:
    # The connection options are accepted before or after the command.
    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                            help="the server's config.properties, for its addresses (default: "
                                 "$TORCHSERVE_CONFIG, else the repository's); "
                                 "TORCHSERVE_INFERENCE_ADDRESS, _MANAGEMENT_ADDRESS and "
                                 "_METRICS_ADDRESS override single addresses")
    connection.add_argument("--key-file", type=Path, default=argparse.SUPPRESS,
                            help="TorchServe's key_file.json (default: $TORCHSERVE_KEY_FILE, "
                                 "else the one beside the config)")
    connection.add_argument("--timeout", type=float, default=argparse.SUPPRESS,
                            help=f"seconds any call may take (default {HTTP_TIMEOUT})")

    top = argparse.ArgumentParser(prog="python -m client", parents=[connection],
                                  description=__doc__.split("\n")[0],
                                  epilog="\n".join(__doc__.split("\n")[1:]),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, function, help):
        sub = commands.add_parser(name, parents=[connection], help=help, description=help)
        sub.set_defaults(run=function)
        return sub

    sub = command("predict", predict, "send one request to a model and print its answer")
    sub.add_argument("model")
    sub.add_argument("input", help="a file (content type from its extension), - for stdin, a "
                                   "JSON object or list, or text")
    sub.add_argument("--version", help="send to this version: /predictions/MODEL/VERSION")
    sub.add_argument("--explain", action="store_true", help="ask /explanations instead")
    sub.add_argument("--content-type", help="send with this content type instead of the guess")

    sub = command("status", status, "workers, versions, batching and queue of every model")
    sub.add_argument("model", nargs="?")
    sub.add_argument("--json", action="store_true", help="print TorchServe's descriptions as JSON")

    sub = command("scale", scale, "run exactly N workers for a model")
    sub.add_argument("model")
    sub.add_argument("--workers", type=int, required=True)
    sub.add_argument("--version", help="scale this version (default: the default version)")
    sub.add_argument("--wait", type=float, default=WAIT_S,
                     help=f"seconds to wait for the workers to start or stop (default {WAIT_S})")

    sub = command("versions", versions, "the registered versions of a model")
    sub.add_argument("model")

    sub = command("register", register, "serve an archive's version beside the others "
                                        "(needs the model API on)")
    sub.add_argument("archive", help="a .mar file (copied into the model store as "
                                     "MODEL_vVERSION.mar) or the name of one in the model store")
    sub.add_argument("--workers", type=int, default=1, help="workers to start (default 1)")
    sub.add_argument("--wait", type=float, default=WAIT_S,
                     help=f"seconds to wait for them to be READY (default {WAIT_S})")

    sub = command("set-default", set_default, "make a version the one /predictions/MODEL "
                                              "answers with")
    sub.add_argument("model")
    sub.add_argument("version")

    sub = command("unregister", unregister, "remove a version of a model (needs the model API on)")
    sub.add_argument("model")
    sub.add_argument("version")
    sub.add_argument("--wait", type=float, default=WAIT_S,
                     help=f"seconds to wait for its workers to stop (default {WAIT_S})")

    sub = command("metrics", metrics, "the metrics API's samples, grouped by model")
    sub.add_argument("--model", help="only this model's samples")
    sub.add_argument("--raw", action="store_true", help="print the Prometheus text as it came")
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    config = getattr(args, "config", None) or os.environ.get("TORCHSERVE_CONFIG") \
        or ROOT / "config.properties"
    key_file = getattr(args, "key_file", None) or os.environ.get("TORCHSERVE_KEY_FILE")
    try:
        server = Server(config, key_file, getattr(args, "timeout", HTTP_TIMEOUT))
        args.run(server, args)
        sys.stdout.flush()
    except ServerError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader left early (`| head`): no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
