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

import torch

from handlers import handler_class
from handlers.formats import FORMATS, FormatError, build_package
from harness.examples import hook
from harness.settings import ROOT, model_families, model_settings as settings
from models.checkpoint import load_checkpoint



def split_inputs(handler) -> list:
    """Handler → one model input per test example, by families/<family>.py."""
    return hook(handler.family, "split_inputs")(handler)


def batches(handler, inputs, size) -> list:
    """Per-request model inputs → collated batches of `size` requests, as TorchServe would batch them."""
    return [handler.collate(inputs[i:i + size]) for i in range(0, len(inputs), size)]


def outputs(handler, batched) -> torch.Tensor:
    """Batches → the handler's inference outputs, concatenated on the CPU."""
    with torch.inference_mode():
        return torch.cat([handler.inference(batch).cpu() for batch in batched])


def agreement(family, expected: torch.Tensor, got: torch.Tensor) -> str:
    """Eager and format outputs → "" when they agree by the family's rule, else what differs."""
    return hook(family, "agreement")(expected, got)


def identical(family, expected, got) -> bool:
    """Whether the served bytes would be identical: by the family's rule, else the same floats."""
    same = hook(family, "identical", lambda expected, got: bool(torch.equal(expected, got)))
    return same(expected, got)


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
    parser.add_argument("families", nargs="*", help="model families (default: all)")
    parser.add_argument("--formats", default=",".join(FORMATS),
                        help=f"comma-separated formats (default {','.join(FORMATS)})")
    parser.add_argument("--repeats", type=int, default=200, help="timed runs per batch (default 200)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads, as one worker of two gets (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    families = args.families or model_families()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for family in families:
            rows += compare(family, args.formats.split(","), args.repeats, workdir)
    show(rows)


if __name__ == "__main__":
    main()
