"""Every model format against eager, in this process: same answers on the test split? how fast?

    .venv/bin/python -m tools.compare_formats [FAMILY ...] [--formats eager,compile,aoti,int8]

For each family and format it prints whether the answers match eager (the
acceptance rule below), the load time (for aoti: loading the .pt2; building
it, archive.sh's share, is printed apart), the first batch's latency, and the
median latency of a batch of one and of a full batch (model-config batchSize).
Run it with nothing else busy; on a shared machine compare ratios, not times.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from handlers import handler_class
from handlers.formats import FORMATS, FormatError, build_package
from harness.settings import ROOT, model_settings as settings
from models.checkpoint import load_checkpoint
from models.digits_cnn import MAX_INK

# A regressor's predictions may move this much, relative, and still count as the same.
RELATIVE_TOLERANCE = 1e-3
# A GAN pixel, as the 0–255 grey level of the PNG served, may move this much.
PIXEL_TOLERANCE = 1
GAN_SEEDS = range(10)  # × 10 digits × MAX_COUNT images: 1,600 images compared


def split_inputs(handler) -> list:
    """Handler → one model input per test example: the family's test split (the GAN: fixed requests)."""
    family, seed = handler.family, handler.checkpoint["data"]["split"]["seed"]
    if family == "digits_cnn":
        from training.digits_data import load_digit_splits
        return list(load_digit_splits(seed=seed, log=lambda _: None).test_x.split(1))
    if family == "diabetes_mlp":
        from training.diabetes_data import load_diabetes_splits
        rows = load_diabetes_splits(seed=seed, log=lambda _: None).test_x.split(1)
        return [row.to(handler.model_dtype) for row in rows]
    if family == "sentiment_rnn":
        from training.sentiment_data import load_sentiment_splits
        texts = load_sentiment_splits(seed=seed, log=lambda _: None).test_texts
        return [handler.preprocess(text) for text in texts]
    if family == "digits_gan":
        from models.digits_gan import MAX_COUNT
        return [handler.preprocess({"digit": digit, "count": MAX_COUNT, "seed": seed})
                for digit in range(10) for seed in GAN_SEEDS]
    raise ValueError(f"no test inputs for {family}")


def batches(handler, inputs, size) -> list:
    """Per-request model inputs → collated batches of `size` requests, as TorchServe would batch them."""
    return [handler.collate(inputs[i:i + size]) for i in range(0, len(inputs), size)]


def outputs(handler, batched) -> torch.Tensor:
    """Batches → the handler's inference outputs, concatenated on the CPU."""
    with torch.inference_mode():
        return torch.cat([handler.inference(batch).cpu() for batch in batched])


def agreement(family, expected: torch.Tensor, got: torch.Tensor) -> str:
    """Eager and format outputs → "" when they agree by the family's rule, else what differs."""
    if family == "digits_cnn":
        differ = int((expected.argmax(1) != got.argmax(1)).sum())
        return f"{differ} of {len(expected)} top-1 labels differ" if differ else ""
    if family == "sentiment_rnn":
        differ = int(((expected >= 0) != (got >= 0)).sum())
        return f"{differ} of {len(expected)} labels differ" if differ else ""
    if family == "diabetes_mlp":
        relative = ((got.double() - expected.double()).abs() / expected.double().abs()).max()
        return (f"largest relative difference {float(relative):.2e}"
                if relative > RELATIVE_TOLERANCE else "")
    grey = [np.round(np.clip(x.numpy(), 0, MAX_INK) * (255 / MAX_INK)) for x in (expected, got)]
    largest = float(np.abs(grey[0] - grey[1]).max())
    return f"pixels differ by up to {largest:.0f} grey levels" if largest > PIXEL_TOLERANCE else ""


def identical(family, expected, got) -> bool:
    """Whether the served bytes would be identical (the GAN: same PNG grey levels; others: same floats)."""
    if family == "digits_gan":
        grey = [np.round(np.clip(x.numpy(), 0, MAX_INK) * (255 / MAX_INK)) for x in (expected, got)]
        return bool((grey[0] == grey[1]).all())
    return bool(torch.equal(expected, got))


def median_ms(handler, batch, repeats) -> float:
    """Handler and one batch → median milliseconds of its inference over `repeats` runs."""
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            start = time.perf_counter()
            handler.inference(batch)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def compare(family, formats, repeats, workdir) -> list:
    """One family through each format → rows of measurements."""
    checkpoint = load_checkpoint(ROOT / "checkpoints" / family / "model.pt")
    cls, size = handler_class(family), settings(family)["batchSize"]
    eager = cls(checkpoint)
    inputs = split_inputs(eager)
    batched = batches(eager, inputs, size)
    expected = outputs(eager, batched)
    one, full = eager.collate(inputs[:1]), batched[0]
    rows = []
    for name in formats:
        package, built_s = None, None
        try:
            if name == "aoti":
                start = time.perf_counter()
                package = build_package(eager, Path(workdir) / f"{family}.pt2")
                built_s = time.perf_counter() - start
            start = time.perf_counter()
            handler = cls(checkpoint, "cpu", name, package)
            load_s = time.perf_counter() - start
        except FormatError as error:
            rows.append({"family": family, "format": name, "verdict": f"n/a: {error}"})
            continue
        start = time.perf_counter()
        with torch.inference_mode():
            handler.inference(full)
        first_ms = (time.perf_counter() - start) * 1000
        got = outputs(handler, batched)
        # A request's answer must not depend on what shares its batch: one at a time too.
        alone = outputs(handler, batches(handler, inputs, 1))
        problem = agreement(family, expected, got) or agreement(family, expected, alone)
        rows.append({
            "family": family, "format": name, "verdict": problem or "match",
            "identical": identical(family, expected, got), "build_s": built_s, "load_s": load_s,
            "first_ms": first_ms, "one_ms": median_ms(handler, one, repeats),
            "full_ms": median_ms(handler, full, repeats), "batch": size,
        })
    return rows


def show(rows):
    """Measurement rows → a Markdown table on stdout."""
    print("| family | format | answers vs eager | identical | build s | load s | first batch ms "
          "| 1-request ms | full batch ms (n) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        if "load_s" not in row:
            print(f"| {row['family']} | {row['format']} | {row['verdict']} | | | | | | |")
            continue
        build = f"{row['build_s']:.1f}" if row["build_s"] is not None else "–"
        print(f"| {row['family']} | {row['format']} | {row['verdict']} | "
              f"{'yes' if row['identical'] else 'no'} | {build} | {row['load_s']:.2f} | "
              f"{row['first_ms']:.1f} | {row['one_ms']:.3f} | {row['full_ms']:.3f} ({row['batch']}) |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="*", help="model families (default: all four)")
    parser.add_argument("--formats", default=",".join(FORMATS),
                        help=f"comma-separated formats (default {','.join(FORMATS)})")
    parser.add_argument("--repeats", type=int, default=200, help="timed runs per batch (default 200)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads, as one worker of two gets (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    families = args.families or ["diabetes_mlp", "digits_cnn", "digits_gan", "sentiment_rnn"]
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for family in families:
            rows += compare(family, args.formats.split(","), args.repeats, workdir)
    show(rows)


if __name__ == "__main__":
    main()
