"""TorchServe on GPU workers: each worker on a GPU, the CPU's answers, and the served figures.

    python -m bench.gpu_check            # make gpu-check
    python -m bench.gpu_check --models digits_cnn --seconds 3

Starts a private TorchServe with number_of_gpu set to the GPUs torch sees,
then checks, for every model:
1. every worker is on a GPU: the management API's describe shows "gpu": true
   for it (TorchServe sets it when it gave the worker a gpu_id), and the
   worker's own log line says it loaded the model on cuda:<id>;
2. its answers over HTTP to test-split requests, good and bad, are the
   answers the same checkpoint gives on the CPU in this process (numbers within
   the family's GPU_TOLERANCE or gpu_difference: families/<family>.py);
3. the served step of the benchmark (batching off and on, one worker).
Without a GPU it says so and exits 0, so `make gpu-check` is safe anywhere.
"""

import argparse
import json
import re
import shutil
from datetime import datetime, timezone

import torch

from bench import sweep
from bench.stores import checkpoint
from harness.examples import calls_for, gpu_difference
from harness.load import difference
from harness.settings import ROOT, model_families
from harness.torchserve import private_server

CONCURRENCIES = (1, 8, 32, 64)


def gpu_problem() -> str:
    """"" when torch can use a GPU here, else why not (the check is then skipped)."""
    if torch.cuda.is_available() and torch.cuda.device_count() > 0:
        return ""
    if shutil.which("nvidia-smi"):
        return (f"nvidia-smi is here but torch {torch.__version__} sees no GPU "
                f"(CUDA build: {torch.version.cuda or 'none'}); install a CUDA build of torch")
    return "no GPU on this machine (no nvidia-smi, torch.cuda.is_available() is False)"


def workers_on_gpu(server, model) -> list:
    """A model → one problem per worker that is not on a GPU, by TorchServe and by its own log."""
    problems = []
    workers = [w for version in server.describe(model) for w in version.get("workers", [])]
    if not workers:
        problems.append(f"{model}: no workers")
    for worker in workers:
        if worker.get("gpu") is not True:
            problems.append(f"{model}: worker {worker.get('id')} (pid {worker.get('pid')}) has "
                            f"gpu={worker.get('gpu')!r} in describe")
    log = (server.workdir / "logs" / "model_log.log").read_text(errors="replace")
    # The adapter logs the device it placed the model on (handlers/torchserve_handler.py).
    devices = re.findall(rf"loaded {model} version \S+ on (\S+)", log)
    if len(devices) < len(workers) or not all(d.startswith("cuda") for d in devices):
        problems.append(f"{model}: workers loaded the model on {devices or 'no logged device'}")
    return problems


def parity(server, model, size) -> list:
    """A model → one problem per request whose served answer differs from the CPU's."""
    good, bad = calls_for(model, checkpoint(model).parent.parent, size=size)
    problems = []
    for call in good + bad:
        reply = server.predict(model, call.body, call.content_type)
        if reply.status_code != call.status:
            problems.append(f"{model}: status {reply.status_code} where {call.status} was expected")
            continue
        got = reply.json()
        problem = (gpu_difference(model, call.answer, got) if call.status == 200
                   else difference(call.answer, got))
        if problem:
            problems.append(f"{model}: {problem}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(model_families()),
                        help="comma-separated (default: all)")
    parser.add_argument("--requests", type=int, default=40,
                        help="test-split requests per model for the parity check (default 40)")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per served point")
    parser.add_argument("--format", default="eager",
                        help="model format to serve (default eager; aoti packages are CPU-only)")
    args = parser.parse_args()
    problem = gpu_problem()
    if problem:
        print(f"gpu-check: skipped: {problem}")
        return 0
    models = args.models.split(",")
    gpus = torch.cuda.device_count()
    print(f"gpu-check: {gpus} GPU(s): "
          + ", ".join(torch.cuda.get_device_name(i) for i in range(gpus)))

    problems = []
    with private_server(models, checkpoint(models[0]).parent.parent, model_format=args.format,
                        ready_timeout_s=300, number_of_gpu=gpus) as server:
        for model in models:
            found = workers_on_gpu(server, model) + parity(server, model, args.requests)
            print(f"  {model}: {'on GPU, same answers as the CPU' if not found else found[0]}")
            problems += found

    points = []
    for batching in (False, True):
        found, _, _ = sweep.sweep(models, batching, [1], CONCURRENCIES, args.seconds, 0.5,
                                  args.format)
        points += found
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = ROOT / "bench" / "results" / f"gpu-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"gpus": [torch.cuda.get_device_name(i) for i in range(gpus)],
                                "problems": problems, "points": points}, indent=1))
    wrong = sum(point["wrong"] for point in points)
    print(f"\ngpu-check: served figures in {path.relative_to(ROOT)}; "
          f"{len(problems)} problem(s), {wrong} wrong answer(s) under load")
    for line in problems[:20]:
        print(f"  {line}")
    return 1 if problems or wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
