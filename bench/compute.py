"""In-process figures for one model: the compute limit of its handler, the bare forward pass, step shares.

The compute limit is ModelHandler.handle over a batch of Requests built from
the model's sample (decode → preprocess → one batched inference →
postprocess) with no HTTP and no server: what one worker could answer if
serving cost nothing. torch runs on as many threads as a TorchServe worker of
this model would.
"""

import atexit
import functools
import shutil
import tempfile
import time
from pathlib import Path

import torch

from bench import handlers_before
from bench.stores import checkpoint
from handlers import handler_class
from handlers import hardware
from handlers.hardware import to_device
from handlers.messages import Request
from harness.settings import ROOT, model_settings as settings

STEPS = ("decode", "preprocess", "inference", "postprocess")
# The handler methods each step's time is read from: the shared pipeline preprocesses and
# postprocesses a whole batch in one call (which calls the per-request step, unless the family
# shares the work across the batch); bench/handlers_before's old pipeline calls the per-request
# step itself.
STEP_METHODS = {"decode": ("decode",), "preprocess": ("preprocess", "preprocess_batch"),
                "inference": ("inference",), "postprocess": ("postprocess", "postprocess_batch")}


def worker_threads(model) -> int:
    """Model → the torch threads its TorchServe worker uses (the same rule as the adapter)."""
    return hardware.worker_threads(settings(model))


def sample_request(handler) -> Request:
    """A handler → a Request carrying its family's sample file (samples/…) and content type."""
    path, content_type = handler.sample
    return Request((ROOT / path).read_bytes(), content_type)


def repeat(work, seconds) -> tuple:
    """Run `work` again and again for about `seconds` (at least 3 times) → (runs, elapsed seconds)."""
    work()  # the first run loads lazy code paths; not counted
    runs, started = 0, time.perf_counter()
    while runs < 3 or time.perf_counter() - started < seconds:
        work()
        runs += 1
    return runs, time.perf_counter() - started


class StepClock:
    """Wraps a handler's steps (and handle itself) on the instance and adds up the seconds each takes."""

    def __init__(self, handler):
        self.seconds = dict.fromkeys(("handle", *STEPS), 0.0)
        self.running = dict.fromkeys(self.seconds, 0)  # a step's calls under way: count the outer
        for step, methods in {"handle": ("handle",), **STEP_METHODS}.items():
            for method in methods:
                setattr(handler, method, self._timed(step, getattr(handler, method)))

    def _timed(self, step, method):
        def timed(*args):
            self.running[step] += 1
            started = time.perf_counter()
            try:
                return method(*args)
            finally:
                self.running[step] -= 1
                if not self.running[step]:
                    self.seconds[step] += time.perf_counter() - started
        return timed


def handle_rate(handler, size, seconds) -> float:
    """A handler, a batch size, seconds → requests/s of handle() over a batch of its sample."""
    batch = [sample_request(handler)] * size
    runs, elapsed = repeat(lambda: handler.handle(batch), seconds)
    return size * runs / elapsed


def build_handler(model, model_format="eager", before=False):
    """Model and format → its ModelHandler on the CPU, serving in that format as a worker would
    (for aoti, with a .pt2 package compiled here as archive.sh compiles it); with `before`, the
    handler as it was before issue 15 (bench/handlers_before)."""
    package = aoti_package(model) if model_format == "aoti" else None
    chosen = handlers_before.handler_class(model) if before else handler_class(model)
    return chosen.from_checkpoint_file(checkpoint(model), model_format=model_format,
                                       package=package)


@functools.lru_cache(maxsize=None)
def aoti_package(model) -> Path:
    """Model → its AOTInductor .pt2, compiled once per run (it takes a while) in a temp folder."""
    from handlers.formats import package_checkpoint
    folder = Path(tempfile.mkdtemp(prefix="bench-aoti-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return package_checkpoint(checkpoint(model), folder / "model.pt2", worker_threads(model))


def measure(model, batch_sizes, seconds, model_format="eager", before=True) -> dict:
    """Model, batch sizes, seconds per figure, format → requests/s of handle() and of the bare
    forward pass per batch size, with `before` of the handler before issue 15 at model-config's
    batchSize ("handle_before"), and the share of handle() each step takes."""
    torch.set_num_threads(worker_threads(model))
    handler = build_handler(model, model_format)
    request = sample_request(handler)
    figures = {"format": model_format, "torch_threads": torch.get_num_threads(),
               "handle": {}, "forward": {}, "shares": {}}
    for size in batch_sizes:
        figures["handle"][str(size)] = handle_rate(handler, size, seconds)
        model_input = to_device(handler.collate(handler.preprocess_batch(
            [handler.decode(request) for _ in range(size)])), handler.device)
        with torch.inference_mode():
            runs, elapsed = repeat(lambda: handler.inference(model_input), seconds)
        figures["forward"][str(size)] = size * runs / elapsed

    # Where a request's time goes, at the largest batch the server forms.
    size = int(settings(model).get("batchSize", 1))
    if before:  # the handler as it was before issue 15 at that batch: the "before" archives' limit
        old = build_handler(model, model_format, before=True)
        figures["handle_before"] = {str(size): handle_rate(old, size, seconds)}
    figures["shares"] = {"batch_size": size, **step_shares(handler, [request] * size, seconds)}
    return figures


def step_shares(handler, batch, seconds) -> dict:
    """A handler, a batch of requests, seconds → the share of handle()'s time each step takes
    ({"decode": 0.2, …, "other": 0.04}). The handler's steps stay wrapped: use it for nothing else."""
    clock = StepClock(handler)
    repeat(lambda: handler.handle(batch), seconds)
    shares = {step: clock.seconds[step] / clock.seconds["handle"] for step in STEPS}
    return {**shares, "other": max(0.0, 1 - sum(shares.values()))}
