"""Start or stop the project's TorchServe (`make serve`, `make stop`).

    python -m tools.serve start   # start in the background, wait for READY workers, print curl commands
    python -m tools.serve start --model-api   # the same, with register/unregister/set-default on
    python -m tools.serve stop

Safe to run again: a server that is already running is left as it is.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

from harness.examples import sample
from harness.settings import ROOT, archived_model_names
from harness.torchserve import ServerError, TorchServe, stop_gateway

READY_TIMEOUT_S = 180



def running_pid():
    """The pid of the TorchServe recorded in the system temp dir, if that process is alive."""
    pid_file = Path(tempfile.gettempdir()) / ".model_server.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
        if "org.pytorch.serve.ModelServer" in psutil.Process(pid).cmdline():
            return pid
    except (OSError, ValueError, IndexError, psutil.Error):
        pass
    return None


def curl_command(server, model):
    """Copy-paste curl for one model's sample request (a note when its handler declares none);
    reads the current key at run time."""
    if sample(model) is None:
        return f"# {model} declares no sample request (`sample` in handlers/{model}.py)"
    path, content_type = sample(model)
    return sample_curl(server.inference_url, model, path.relative_to(ROOT), content_type)


def sample_curl(inference_url, model, path, content_type) -> str:
    """A model, the path of a sample request under the repository and its content type → the
    curl command that sends it, with the current inference key."""
    return (f"curl -s --max-time 10 -X POST {inference_url}/predictions/{model} \\\n"
            f"  -H \"Authorization: Bearer $(.venv/bin/python -m tools.keys inference)\" \\\n"
            f"  -H \"Content-Type: {content_type}\" --data-binary @{path}")


def start(config, model_api=False):
    # TorchServe runs from the config's folder: its logs/ and key_file.json land there.
    server = TorchServe(config.parent, config)
    if model_api:
        # Started with the model API on, TorchServe gets the config written for it
        # behind the management gateway, which carries this setting.
        server.properties["enable_model_api"] = "true"
    models = archived_model_names(server.model_store)
    if not models:
        raise ServerError(f"no .mar files in {server.model_store}; run ./archive.sh first")

    pid = running_pid()
    if pid:
        print(f"TorchServe is already running (pid {pid}); leaving it as it is. "
              "Run 'make stop' first to serve newly built archives"
              + (" or to switch the model API on." if model_api and not server.gateway_pid_path.exists()
                 else "."))
    else:
        print(f"starting TorchServe with {server.config_path.name}: {', '.join(models)}")
        server.start()
    try:
        server.wait_until_ready(models, timeout_s=READY_TIMEOUT_S)
    except ServerError:
        if not pid:
            server.stop()
        raise

    for model in models:
        print(f"{model}: {server.ready_workers(model)} worker(s) READY")
    print("\nTry it (the key is read from key_file.json each time, and renewed when expired):\n")
    for model in models:
        print(curl_command(server, model) + "\n")
    print(f"Logs: {server.workdir / 'logs'}   Stop: make stop")


def stop(config):
    torchserve = Path(sys.executable).parent / "torchserve"
    # Run where the server runs, so TorchServe also deletes that key_file.json.
    result = subprocess.run([str(torchserve), "--stop", "--foreground"], cwd=config.parent)
    stop_gateway(TorchServe(config.parent, config).gateway_pid_path)
    return result.returncode


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--model-api", action="store_true",
                        help="start with the model API on (enable_model_api=true: register, "
                             "unregister, set-default), behind tools/management_gateway.py")
    parser.add_argument("--config", type=Path, default=ROOT / "config.properties",
                        help="TorchServe config; the server runs in its folder "
                             "(default: the repository's config.properties)")
    args = parser.parse_args(argv)
    config = args.config.resolve()
    try:
        if args.action == "start":
            start(config, args.model_api)
        else:
            return stop(config)
    except ServerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
