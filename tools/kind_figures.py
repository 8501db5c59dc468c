"""What a family of each kind reaches on small data, measured on examples written apart from it.

    python -m tools.kind_figures                 # five seeds each; about ten minutes on 2 cores
    python -m tools.kind_figures --seeds 0 1

In a scratch copy of the repository it makes a family of each kind from the guide's data
(docs/your-model/example_data.py), trains it with each seed, and sends held-out examples
through the family's handler: for the text family the sentences of
docs/your-model/held_out_sentences.csv, written by hand apart from its data; for the image
family pictures drawn with another seed; for the tabular families, which have no other data, their own
test split. The table goes into docs/your-model.md, section "What the kinds reach".
"""

import argparse
import importlib
import json
import re
import sys
import tempfile
from pathlib import Path

import torch

from handlers import handler_class
from handlers.messages import Request
from harness.scratch import copy_repository, run_in
from harness.settings import ROOT
from models.checkpoint import load_checkpoint
from training.evaluation import expected_calibration_error
from training.regression import regression_metrics
from training.tables import read_csv

GUIDE = ROOT / "docs" / "your-model.md"
HELD_OUT_PICTURES = 60  # per class, drawn with HELD_OUT_SEED
HELD_OUT_SEED = 123
# Held-out examples by kind, under the example data folder; a kind not here is judged on its
# own test split.
HELD_OUT = {"text-classifier": "held_out_sentences.csv", "image-classifier": "held_out_pictures"}
# The guide's own commands name its families, their kinds and their data.
MADE = re.compile(r"tools\.new_family (\w+) --kind ([\w-]+) --data /tmp/your-data/(\S+)")


def guide_families() -> list:
    """The families docs/your-model.md makes → [(family, kind, its data under the example data
    folder, held-out examples or None)], one per kind."""
    made = {}
    for family, kind, source in MADE.findall(GUIDE.read_text()):
        made.setdefault(kind, (family, kind, source, HELD_OUT.get(kind)))
    return list(made.values())


def held_out_requests(family, held_out: Path) -> list:
    """Held-out examples → [(body, content type, true label)] as a client would send them."""
    if held_out.is_dir():
        return [(path.read_bytes(), "image/png" if path.suffix == ".png" else "image/jpeg",
                 path.parent.name) for path in sorted(held_out.rglob("*.*"))]
    frame = read_csv(held_out, ["text", "label"])
    return [(text.encode(), "text/plain", label) for text, label in zip(frame.text, frame.label)]


def split_requests(family, checkpoint) -> list:
    """A family's own test split → [(body, content type, true label or value)]."""
    splits = importlib.import_module(f"training.{family}").load_splits(
        seed=checkpoint["data"]["split"]["seed"], log=lambda line: None)
    features = checkpoint["preprocessing"]["features"]
    truth = ([checkpoint["labels"][int(y)] for y in splits.test_y]
             if splits.test_y.dtype == torch.int64 else splits.test_y.tolist())
    return [(json.dumps(dict(zip(features, row))).encode(), "application/json", target)
            for row, target in zip(splits.test_x.double().tolist(), truth)]


def evaluate(family, checkpoint_path, held_out=None) -> dict:
    """A family's checkpoint and held-out examples (None: its test split) → its figures, every
    example sent through the family's handler as a request."""
    checkpoint = load_checkpoint(checkpoint_path)
    handler = handler_class(family)(checkpoint)
    requests = split_requests(family, checkpoint) if held_out is None else \
        held_out_requests(family, Path(held_out))
    answers = [answer.body for answer in handler.handle([Request(body, content_type)
                                                         for body, content_type, _ in requests])]
    truth = [target for _, _, target in requests]
    if "prediction" in answers[0]:
        return {"examples": len(truth),
                **regression_metrics(truth, [answer["prediction"] for answer in answers])}
    correct = [answer["label"] == target for answer, target in zip(answers, truth)]
    confidence = [answer["probability"] for answer in answers]
    return {"examples": len(truth), "accuracy": sum(correct) / len(correct),
            "ece": expected_calibration_error(confidence, correct, low=1 / len(handler.labels))}


def measure(seeds) -> dict:
    """Every kind, every seed, in a scratch copy → {family: [figures per seed]}."""
    figures = {}
    with tempfile.TemporaryDirectory(prefix="kind-figures-") as folder:
        copy = copy_repository(Path(folder) / "repository", ROOT / "checkpoints")
        data = Path(folder) / "data"
        run_in(copy, "python", "docs/your-model/example_data.py", data)
        run_in(copy, "python", "-c", "import sys; sys.path.insert(0, 'docs/your-model'); "
               "from pathlib import Path; from example_data import write_drawn_pictures; "
               f"write_drawn_pictures(Path({str(data / HELD_OUT['image-classifier'])!r}), "
               f"{HELD_OUT_PICTURES}, {HELD_OUT_SEED})")
        sentences = HELD_OUT["text-classifier"]
        (data / sentences).write_bytes((ROOT / "docs" / "your-model" / sentences).read_bytes())
        for family, kind, source, held_out in guide_families():
            run_in(copy, "python", "-m", "tools.new_family", family, "--kind", kind,
                   "--data", data / source)
            figures[family] = []
            for seed in seeds:
                out = Path(folder) / f"{family}-{seed}"
                run_in(copy, "python", "-m", f"training.{family}", "--seed", seed, "--out", out)
                printed = run_in(copy, "python", "-m", "tools.kind_figures", "--evaluate", family,
                                 out / "model.pt", *([data / held_out] if held_out else []))
                figures[family].append(json.loads(printed.strip().splitlines()[-1]))
                print(family, seed, figures[family][-1], flush=True)
    return figures


def spread(values, percent=True) -> str:
    shown = [f"{v:.1%}" if percent else f"{v:.3f}" for v in (min(values), max(values))]
    return shown[0] if shown[0] == shown[1] else f"{shown[0]}–{shown[1]}"


def table(figures, seeds) -> list:
    rows = ["| family | kind | judged on | examples | seeds | accuracy | ECE | R² |",
            "|---|---|---|---:|---:|---|---|---|"]
    for family, kind, _, held_out in guide_families():
        runs = figures[family]
        judged = {None: "its own test split",
                  HELD_OUT["text-classifier"]: "sentences written apart (held_out_sentences.csv)",
                  HELD_OUT["image-classifier"]: f"pictures drawn with seed {HELD_OUT_SEED}"}[held_out]
        if "r2" in runs[0]:
            scores = ["–", "–", spread([run["r2"] for run in runs], percent=False)]
        else:
            scores = [spread([run["accuracy"] for run in runs]),
                      spread([run["ece"] for run in runs], percent=False), "–"]
        rows.append(f"| {family} | {kind} | {judged} | {runs[0]['examples']} | {len(seeds)} | "
                    + " | ".join(scores) + " |")
    return rows


def publish(rows, seeds):
    """The table → docs/your-model.md between its figures markers."""
    begin, end = "<!-- figures: kinds -->", "<!-- /figures: kinds -->"
    body = "\n".join([begin, "Measured with:", "", "```sh",
                      f".venv/bin/python -m tools.kind_figures --seeds {' '.join(map(str, seeds))}",
                      "```", "", *rows, end])
    text = GUIDE.read_text()
    GUIDE.write_text(re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: body, text,
                            flags=re.DOTALL))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--evaluate", nargs="+", metavar="ARG",
                        help="(what it runs in the scratch copy) FAMILY CHECKPOINT [HELD_OUT]: "
                             "print the checkpoint's figures")
    args = parser.parse_args(argv)
    if args.evaluate:
        print(json.dumps(evaluate(*args.evaluate)))
        return 0
    figures = measure(args.seeds)
    rows = table(figures, args.seeds)
    print("\n".join(rows))
    publish(rows, args.seeds)
    print(f"(written to {GUIDE.relative_to(ROOT)}, section 'What the kinds reach')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
