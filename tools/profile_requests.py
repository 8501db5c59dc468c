"""Where a batch's time goes in the worker (decode, preprocess, inference, postprocess), with one
torch thread and with torch's default, side by side in this process.

    .venv/bin/python -m tools.profile_requests [FAMILY ...] [--repeats 200]

Each family's batch is model-config batchSize requests from harness.examples
(the load test's bodies). The two thread counts alternate run by run, so a
busy machine slows both alike: compare ratios.
"""

import argparse
import statistics
import time

import torch

from handlers import handler_class
from handlers.base import rows
from handlers.hardware import to_device
from handlers.messages import Request
from harness.examples import calls_for
from harness.settings import CHECKPOINTS, model_families
from harness.settings import model_settings as settings
from models.checkpoint import load_checkpoint

STEPS = ("decode", "preprocess", "inference", "postprocess")


def requests_for(family, count) -> list:
    """Family → `count` good requests from the load test's bodies."""
    good, _ = calls_for(family)
    return [Request(good[i % len(good)].body, good[i % len(good)].content_type)
            for i in range(count)]


def timed_batch(handler, requests) -> dict:
    """One batch through the handler's steps → seconds per step."""
    spent = dict.fromkeys(STEPS, 0.0)
    start = time.perf_counter()
    payloads = [handler.decode(request) for request in requests]
    spent["decode"] = time.perf_counter() - start
    start = time.perf_counter()
    inputs = handler.preprocess_batch(payloads)
    spent["preprocess"] = time.perf_counter() - start
    start = time.perf_counter()
    with torch.inference_mode():
        outputs = handler.inference(to_device(handler.collate(inputs), handler.device)).cpu()
    spent["inference"] = time.perf_counter() - start
    start = time.perf_counter()
    handler.postprocess_batch(payloads, outputs, [rows(x) for x in inputs])
    spent["postprocess"] = time.perf_counter() - start
    return spent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="*", help="default: all")
    parser.add_argument("--repeats", type=int, default=200, help="batches per thread count")
    args = parser.parse_args()
    default_threads = torch.get_num_threads()
    counts = sorted({1, default_threads})
    print(f"torch default: {default_threads} intra-op threads\n")
    print("| family (batch) | threads | batch ms | decode | preprocess | inference | postprocess |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for family in args.families or model_families():
        handler = handler_class(family)(load_checkpoint(CHECKPOINTS / family / "model.pt"))
        size = settings(family)["batchSize"]
        batch = requests_for(family, size)
        runs = {count: [] for count in counts}
        for _ in range(args.repeats):
            for count in counts:
                torch.set_num_threads(count)
                runs[count].append(timed_batch(handler, batch))
        for count in counts:
            medians = {step: statistics.median(run[step] for run in runs[count]) for step in STEPS}
            total = sum(medians.values())
            shares = " | ".join(f"{medians[step] * 1000:.2f} ms ({medians[step] / total:.0%})"
                                for step in STEPS)
            print(f"| {family} ({size}) | {count} | {total * 1000:.2f} | {shares} |")
    torch.set_num_threads(default_threads)


if __name__ == "__main__":
    main()
