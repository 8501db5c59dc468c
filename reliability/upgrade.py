"""Zero-downtime upgrade or rollback: serve an archive's version beside the current one, make it the default, unregister the old.

    ./archive.sh --version 2.0 --model-store /tmp/v2 digits_cnn
    python -m reliability.upgrade --config config.properties --archive /tmp/v2/digits_cnn.mar
    # roll back:
    python -m reliability.upgrade --config config.properties --archive model_store/digits_cnn.mar

The server must allow it: enable_model_api=true in its config. Addresses and
the model store come from the config; the management and inference keys from
key_file.json beside it (or --key-file). Only the management URL of the
config is used for management calls, so a gateway in front of it works too.
Steps, each with a timeout, and the script stops with a message at the first
that fails, leaving the old version serving:

1. copy the archive into the model store as <model>_v<version>.mar (TorchServe
   registers archives by file name; the model name and version come from the
   archive's manifest), unless it is already there;
2. register it beside the current default and wait for its workers (as many
   READY as the old version has);
3. send a sample request to the new version (the family's sample by default);
4. make it the default: from now on /predictions/<model> goes to it;
5. let the old version drain: its queue empty and then --drain seconds more,
   because TorchServe drops the requests in a worker's batch without an answer
   when that worker's version is unregistered;
6. unregister the old version.
"""

import argparse
import sys
import time
from pathlib import Path

import requests

from harness.examples import sample as family_sample
from harness.store import manifest, place_in_store
from harness.torchserve import KeyFile, ServerError, TorchServe

POLL_S = 0.2


def default_version(server, model) -> dict:
    return server.manage("GET", f"/models/{model}")[0]


def versions(server, model) -> list:
    """Every registered version of `model`, or [] when it is not registered."""
    try:
        return server.manage("GET", f"/models/{model}/all")
    except ServerError as error:
        if error.status == 404:
            return []
        raise


def version_of(server, model, version) -> dict:
    return server.manage("GET", f"/models/{model}/{version}")[0]


def ready(description) -> int:
    return sum(worker["status"] == "READY" for worker in description.get("workers", []))


def wait_until(what, condition, timeout_s):
    """Poll `condition()` until true; raises ServerError saying what did not happen in time."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise ServerError(f"{what}: not done after {timeout_s} s")
        time.sleep(POLL_S)


def probe(server, model, version, sample, content_type):
    """Send one sample request to a model version; raises ServerError unless it answers 200."""
    try:
        response = server.predict(model, Path(sample).read_bytes(), content_type, version)
    except requests.RequestException as error:
        raise ServerError(f"POST {server.inference_url}/predictions/{model}/{version}: no answer "
                          f"({type(error).__name__})") from None
    if response.status_code != 200:
        raise ServerError(f"the new version answered the sample {Path(sample).name} with "
                          f"{response.status_code} {response.text.strip()}")
    return response.json()


def start_version(server, archive, model, version, workers, timeout_s, log):
    """Register the archive's version (unless it is) and wait until `workers` of its workers are READY."""
    if version in {v["modelVersion"] for v in versions(server, model)}:
        log(f"  {version} is already registered; using it")
    else:
        name = place_in_store(archive, server.model_store, model, version)
        log(f"  registering {name} from {server.model_store} …")
        # Asynchronous: a synchronous call holds one of the frontend's network
        # threads until the workers are up, and inference requests on the
        # connections that thread serves wait just as long.
        server.manage("POST", "/models", url=name, synchronous="false")
        wait_until(f"{model} {version} to load", lambda: ready(version_of(server, model, version)),
                   timeout_s)
    if ready(version_of(server, model, version)) < workers:
        server.manage("PUT", f"/models/{model}/{version}", min_worker=workers, synchronous="false")
    wait_until(f"{workers} READY worker(s) for {model} {version}",
               lambda: ready(version_of(server, model, version)) >= workers, timeout_s)
    log(f"  {model} {version}: {ready(version_of(server, model, version))} worker(s) READY")


def retire(server, model, version, drain_s, timeout_s):
    """Wait until a version no longer the default has answered what it holds, then unregister it."""
    wait_until(f"the queue of {model} {version} to empty",
               lambda: version_of(server, model, version)["jobQueueStatus"]["pendingRequests"] == 0,
               timeout_s)
    # An empty queue is not enough: the requests a worker has taken into its
    # batch would be dropped unanswered by the unregistration.
    time.sleep(drain_s)
    server.manage("DELETE", f"/models/{model}/{version}", timeout=timeout_s)


def upgrade(server, archive, sample=None, content_type=None, drain_s=3.0, timeout_s=120,
            log=print) -> dict:
    """Make the archive's version the default of its model and unregister the old one → seconds to each step."""
    model, version = manifest(archive)
    if not versions(server, model):
        raise ServerError(f"{model} is not served; register it first (this script swaps versions)")
    old = default_version(server, model)
    if old["modelVersion"] == version:
        raise ServerError(f"{model} {version} is already the default version")
    log(f"{model}: default version {old['modelVersion']} → {version}")
    timings, started = {}, time.monotonic()
    try:
        start_version(server, archive, model, version, max(1, ready(old)), timeout_s, log)
        timings["ready"] = time.monotonic() - started
        if sample:
            probe(server, model, version, sample, content_type)
            log(f"  sample {Path(sample).name} answered 200 by {version}")
    except ServerError as error:
        raise ServerError(f"{error}\n{old['modelVersion']} is still the default; remove "
                          f"{version} with DELETE {server.management_url}/models/{model}/"
                          f"{version}") from None
    server.manage("PUT", f"/models/{model}/{version}/set-default")
    timings["default"] = time.monotonic() - started
    log(f"  {version} is the default")

    retire(server, model, old["modelVersion"], drain_s, timeout_s)
    timings["old unregistered"] = time.monotonic() - started
    log(f"  {old['modelVersion']} unregistered after draining for {drain_s:g} s; done in "
        f"{timings['old unregistered']:.1f} s")
    return timings


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.split("\n")[1:]))
    parser.add_argument("--config", type=Path, default=Path("config.properties"),
                        help="the server's config.properties (default ./config.properties)")
    parser.add_argument("--archive", type=Path, required=True,
                        help="the .mar to serve (its manifest names the model and version)")
    parser.add_argument("--key-file", type=Path,
                        help="TorchServe's key_file.json (default: beside the config)")
    parser.add_argument("--sample", type=Path,
                        help="a request body to try on the new version first (default: the "
                             "family's sample under samples/, when the model is one of ours)")
    parser.add_argument("--content-type", help="the sample's content type")
    parser.add_argument("--drain", type=float, default=3.0,
                        help="seconds to wait after the old version's queue is empty, longer "
                             "than its slowest batch (default 3)")
    parser.add_argument("--timeout", type=float, default=120,
                        help="seconds each wait may take (default 120)")
    args = parser.parse_args()

    if not args.config.exists():
        parser.error(f"no config at {args.config}")
    if not args.archive.exists():
        parser.error(f"no archive at {args.archive}")
    server = TorchServe(args.config.parent, args.config)
    if args.key_file:
        server.keys = KeyFile(args.key_file)
    try:
        if server.properties.get("enable_model_api", "false").lower() != "true":
            raise ServerError(f"{args.config} does not set enable_model_api=true, so TorchServe "
                              "refuses to register and unregister models; set it and restart")
        model, version = manifest(args.archive)
        sample, content_type = args.sample, args.content_type
        if sample is None:
            sample, content_type = family_sample(model) or (None, None)
        upgrade(server, args.archive, sample, content_type, args.drain, args.timeout)
    except ServerError as error:
        print(f"upgrade stopped: {error}", file=sys.stderr)
        return 1
    print(f"\nA restart serves every archive in {server.model_store} (load_models=all): to keep "
          f"{version} after one, leave only its {model} archive there.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
