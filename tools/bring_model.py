"""Bring a model trained elsewhere into a family, without retraining: a torch.export program, a
TorchScript file, or a state_dict with its class → OUT/model.pt and OUT/metrics.json, served by
the family's handler like any checkpoint (./archive.sh FAMILY).

    python -m tools.bring_model FAMILY FILE [--class NET.py:Class] [--args JSON]
                                [--version V] [--labels a,b,...] [--out checkpoints/FAMILY]

The format is read from the file's content, not its name. Nothing is unpickled as code, here
or when served: programs pass models/exported_program_check.py or models/torchscript_check.py,
a state_dict is read with torch.load(weights_only=True), and its class is your own source,
copied to models/<family>_network.py and reviewed like any code. The model must answer the
family's inputs alone and in a batch alike, and its sample request; it is scored on the
family's test split where the family has one. On any refusal nothing is written.
"""

import argparse
import hashlib
import io
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import torch

from handlers import handler_class
from harness.examples import hook
from harness.settings import CHECKPOINTS, model_families
from models.checkpoint import (CheckpointError, load_checkpoint, network_class, network_file,
                               save_checkpoint)
from models.brought import BroughtNetwork, BroughtProgram
from models.exported_program_check import check_exported_program
from models.program_files import (EXPORTED_PROGRAM, STATE_DICT, ModelZip, ProgramError,
                                  file_format, weights_only_refusal)
from models.torchscript_check import check_torchscript
from tools.brought_model_checks import (BATCH, BringError, check_batches, check_labels,
                                        family_inputs, one_line, report_lines, run, sample_answer,
                                        split_report)

VERSION = "1.0"
# Wrappers notebooks often save around a state_dict.
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")
CHECKED = {
    "exported_program": "the pt2 layout only: raw tensors (no pickled objects), aten operators, "
                        "plain shape expressions, no guards code or compiled code; sample inputs "
                        "read weights_only",
    "torchscript": "pickles name only TorchScript classes and torch's tensor rebuilders; code and "
                   "forward graph call no file-writing, RPC or foreign operators",
    "state_dict": "read with torch.load(weights_only=True); every tensor fits the class exactly",
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("family", help="the family whose pre- and post-processing serve the model")
    parser.add_argument("file", help="the model file: .pt2, TorchScript, or a state_dict")
    parser.add_argument("--class", dest="network", metavar="NET.py:Class",
                        help="a state_dict's nn.Module class: its file and name")
    parser.add_argument("--args", default="{}", metavar="JSON",
                        help="the class's constructor arguments, a JSON object (default {})")
    parser.add_argument("--version", default=VERSION,
                        help=f"model version recorded in the checkpoint (default {VERSION})")
    parser.add_argument("--labels", help="comma-separated labels in the model's output order "
                                         "(default: the family's)")
    parser.add_argument("--out", help="output directory (default checkpoints/FAMILY)")
    return parser.parse_args(argv)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_bytes(path, what: str) -> bytes:
    """A path → its bytes; raises BringError saying why it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise BringError(f"cannot read {what} {path}: {error.strerror or error}") from None


def state_dict_in(data: bytes, what: str) -> dict:
    """A torch.save file's bytes → the state_dict it holds, read weights_only; raises BringError
    when it holds pickled objects or something other than parameter names → tensors."""
    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:
        raise BringError(f"{what}: torch.load(weights_only=True) refuses it "
                         f"({weights_only_refusal(error)}); a whole pickled model is not read: "
                         "save model.state_dict()") from None
    for key in STATE_DICT_KEYS:
        if isinstance(loaded, Mapping) and isinstance(loaded.get(key), Mapping):
            loaded = loaded[key]
            break
    if not isinstance(loaded, Mapping) or not loaded or not all(
            isinstance(name, str) and isinstance(value, torch.Tensor)
            for name, value in loaded.items()):
        held = sorted(loaded)[:5] if isinstance(loaded, Mapping) else type(loaded).__name__
        raise BringError(f"{what}: holds {held}, not a state_dict (parameter names → tensors); "
                         "save model.state_dict()")
    return dict(loaded)


def class_spec(text: str):
    """ "path/net.py:Net" → (Path, "Net"); raises BringError for anything else."""
    path, _, name = (text or "").rpartition(":")
    if not path.endswith(".py") or not name.isidentifier():
        raise BringError(f"--class {text!r}: give the class's file and name, as net.py:Net")
    return Path(path), name


def write_atomically(path: Path, data: bytes):
    """Bytes → `path`, written to a temporary file beside it and renamed, so never half written."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.replace(temporary, path)


@contextmanager
def network_in_place(family: str, source):
    """The class's source (None: no class) → in models/<family>_network.py for the body; the file
    as it was is put back when the body fails."""
    if source is None:
        yield
        return
    path = network_file(family)
    before = path.read_bytes() if path.exists() else None
    write_atomically(path, source)
    try:
        yield
    except BaseException:
        if before is None:
            path.unlink()
        else:
            write_atomically(path, before)
        raise


def program_model(program_format: str, data: bytes, what: str):
    """A program file's format, bytes and name → (BroughtProgram loaded from them, its
    model_args); raises ProgramError naming the file's unsafe entry."""
    # Checked here under the file's name; the checkpoint's loader checks again.
    model_zip = ModelZip(data, what)
    (check_exported_program if program_format == EXPORTED_PROGRAM else check_torchscript)(model_zip)
    model_args = {"program_format": program_format, "size": len(data), "sha256": sha256(data)}
    model = BroughtProgram(**model_args)
    model.load_state_dict({"program": torch.frombuffer(bytearray(data), dtype=torch.uint8)})
    # The dtype the program computes in: its first floating-point weight's.
    weights = [*model.loaded.parameters(), *model.loaded.buffers()]
    dtype = next((w.dtype for w in weights if w.is_floating_point()), torch.float32)
    model.compute_dtype = dtype
    return model, {**model_args, "dtype": str(dtype).removeprefix("torch.")}


def network_model(family: str, data: bytes, what: str, spec: str, arguments: dict):
    """A state_dict's bytes and its class → (the class built and loaded, model_args, provenance);
    the class is already in models/<family>_network.py."""
    _, name = class_spec(spec)
    state = state_dict_in(data, what)
    source_sha = sha256(network_file(family).read_bytes())
    network = network_class(family, name, source_sha)
    try:
        model = network(**arguments)
    except Exception as error:  # the user's constructor
        raise BringError(f"{name}(**{json.dumps(arguments)}) fails: {one_line(error)}") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise BringError(f"{what} does not fit {name}: missing {', '.join(missing) or 'nothing'}; "
                         f"unexpected {', '.join(unexpected) or 'nothing'}")
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise BringError(f"{what} does not fit {name}: {key} is {list(tensor.shape)} in the "
                             f"file and {list(expected[key].shape)} in the class (check --args)")
    model.load_state_dict(state, strict=True)
    code = {"class": name, "class_sha256": source_sha,
            "class_file": f"models/{network_file(family).name}"}
    return BroughtNetwork(model).eval(), dict(arguments), code


def family_labels(family: str, splits, given):
    """--labels, else the family's splits' classes, else families/<family>.py's LABELS."""
    if given:
        return [label.strip() for label in given.split(",") if label.strip()]
    labels = getattr(splits, "classes", None) or hook(family, "LABELS")
    if not labels:
        raise BringError(f"{family} names no labels of its own; pass --labels a,b,... in the "
                         "model's output order")
    return list(labels)


def checked_handler(fields: dict, folder: Path):
    """Checkpoint fields → the family's handler over them, loaded the way a server loads it:
    written, read back weights_only, rebuilt."""
    save_checkpoint(folder / "model.pt", **fields)
    checkpoint = load_checkpoint(folder / "model.pt")
    return handler_class(checkpoint["family"])(checkpoint)


def rows_per_call(handler, inputs) -> int:
    """Handler over a brought model and a few inputs → 0 when it takes a batch of any size, 1 for
    a program that answers one row but fails on a batch (exported with a static batch size)."""
    if not isinstance(handler.model, BroughtProgram):
        return 0
    try:
        run(handler, inputs, f"at batch {len(inputs)}")
        return 0
    except BringError:
        run(handler, inputs[:1], "at batch 1")
        return 1


def row_by_row_note(model_args) -> list:
    """A brought model's model_args → the note that it serves rows one at a time, if it does."""
    if not model_args.get("rows_per_call"):
        return []
    return ["note: the program fails on a batch but answers one row (exported with a static "
            "batch size?), so it is served row by row; export it with dynamic_shapes="
            "({0: torch.export.Dim('batch')},) to serve batches in one call"]


def constructor_arguments(text: str) -> dict:
    """--args → the class's constructor arguments; raises BringError unless a JSON object."""
    try:
        arguments = json.loads(text)
    except json.JSONDecodeError as error:
        raise BringError(f"--args {text!r}: not JSON ({error})") from None
    if not isinstance(arguments, dict):
        raise BringError(f"--args {text!r}: give a JSON object of constructor arguments")
    return arguments


def model_from_file(family, kind, path: Path, data: bytes, args):
    """The file's format, path and bytes, and the options → (the model to save, its model_args,
    where it came from: the checkpoint's "brought")."""
    brought = {"format": kind, "file": path.name, "sha256": sha256(data), "bytes": len(data),
               "brought_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if kind != STATE_DICT:
        model, model_args = program_model(kind, data, path.name)
        return model, {**model_args, "rows_per_call": 0}, brought
    model, model_args, code = network_model(family, data, path.name, args.network,
                                            constructor_arguments(args.args))
    return model, model_args, {**brought, **code, "class_source": class_spec(args.network)[0].name}


def checked_answers(fields: dict, splits):
    """Checkpoint fields and the family's splits → (its answer to the sample request, its
    test-split figures) once the model passes every check; sets model_args' rows_per_call."""
    with tempfile.TemporaryDirectory() as folder:
        handler = checked_handler(fields, Path(folder))
        inputs = family_inputs(handler, splits)
        if isinstance(handler.model, BroughtProgram):
            handler.model.rows_per_call = fields["model_args"]["rows_per_call"] = rows_per_call(
                handler, inputs)
        check_labels(check_batches(handler, inputs), fields["labels"])
        return sample_answer(handler), split_report(handler, splits, fields["labels"])


def bring(args) -> list:
    """Parsed arguments → the lines to print, once OUT/model.pt and metrics.json are written;
    raises BringError, ProgramError or CheckpointError, with nothing written."""
    family, path = args.family, Path(args.file)
    if family not in model_families():
        raise BringError(f"unknown family {family!r} (known: {', '.join(model_families())})")
    data = read_bytes(path, "model file")
    kind = file_format(ModelZip(data, path.name))
    if (kind == STATE_DICT) != bool(args.network):
        raise BringError(f"{path.name} is a {kind}: --class is for a state_dict only" if
                         args.network else f"{path.name} is a state_dict: name its class with "
                         "--class net.py:Net (and --args '{...}')")
    source = read_bytes(class_spec(args.network)[0], "class file") if args.network else None
    splits = (hook(family, "evaluation_splits") or (lambda: None))()
    labels = family_labels(family, splits, args.labels)
    out = Path(args.out) if args.out else CHECKPOINTS / family
    replaced = source is not None and network_file(family).exists() and (
        network_file(family).read_bytes() != source)

    with network_in_place(family, source):
        model, model_args, brought = model_from_file(family, kind, path, data, args)
        fields = dict(family=family, version=args.version, model=model, model_args=model_args,
                      labels=labels, metrics={}, training={"trained": "elsewhere"},
                      data={**(splits.data_info if splits else {}),
                            "used": "evaluation only: the model was trained elsewhere"},
                      brought=brought, preprocessing={"by": f"handlers/{family}.py"})
        answer, report = checked_answers(fields, splits)
        fields["metrics"] = {**report, "brought": brought}
        out.mkdir(parents=True, exist_ok=True)
        save_checkpoint(out / "model.pt", **fields)
        write_atomically(out / "metrics.json",
                         (json.dumps(fields["metrics"], indent=2) + "\n").encode())

    return [f"brought {path.name}: {kind}, {len(data):,} bytes, sha256 {brought['sha256'][:16]}…",
            f"checked: {CHECKED[kind]}",
            f"answers: alike at batch 1 and {BATCH}; sample request → {json.dumps(answer)[:120]}",
            *row_by_row_note(model_args), *report_lines(report), f"labels: {', '.join(labels)}",
            *([f"class: {brought['class_file']} (from {brought['class_source']})"]
              if kind == STATE_DICT else []),
            *([f"replaced the previous {brought['class_file']}: models brought with it no longer "
               "load"] if replaced else []),
            f"wrote {out}/model.pt and {out}/metrics.json", archive_hint(out, family)]


def archive_hint(out: Path, family: str) -> str:
    """Where the checkpoint went → the archive.sh command that packages it."""
    if out.name != family:
        return f"archive.sh reads CHECKPOINTS/{family}/model.pt: move {out} to a folder named {family}"
    if out.resolve() == (CHECKPOINTS / family).resolve():
        return f"next: ./archive.sh {family}"
    return f"next: ./archive.sh --checkpoints {out.parent} {family}"


def main(argv=None):
    args = parse_args(argv)
    try:
        lines = bring(args)
    except (BringError, ProgramError, CheckpointError) as error:
        sys.exit(f"bring_model: {error}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
