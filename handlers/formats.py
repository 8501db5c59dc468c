"""Model formats: an eager model and a format name → the callable that serves it.

- eager: the nn.Module as trained.
- compile: torch.compile at worker start (Inductor, dynamic batch size);
  warmed up there, so the first request pays no compilation. Inductor
  writes C++, so the serving machine needs g++.
- aoti: torch.export + AOTInductor, compiled ahead of time by archive.sh into
  a .pt2 package that ships in the .mar; loading it runs that compiled code,
  so serve only packages built here (docs: README, "Model formats").
- int8: dynamic int8 quantization of the Linear and GRU layers, done at load.

A model brought as a program file (tools.bring_model) serves eager only.

The eager module stays the handler's `model` either way: explanations need
its gradients and the handlers read attributes (vocabulary, noise size) from it.
"""

import warnings
from pathlib import Path

import torch
from torch import nn

from handlers import handler_class
from handlers.hardware import to_device
from models.checkpoint import load_checkpoint
from models.brought import BroughtProgram

FORMATS = ("eager", "compile", "aoti", "int8")
FORMAT_FILE = "model_format"  # in the .mar: one line naming the format archive.sh chose
PACKAGE_FILE = "model.pt2"  # in the .mar when the format is aoti
# Batch sizes the exported program accepts: up to the largest batchSize and
# then some, since one diabetes_mlp request holds up to 1,000 rows.
MAX_EXPORT_ROWS = 65536
QUANTIZED_LAYERS = {nn.Linear, nn.GRU}
WARM_UP_ROWS = (2, 1, 16)  # batch sizes torch.compile sees at worker start


class FormatError(ValueError):
    """A format that cannot serve this model: unknown name, missing package, unsupported layers."""


def check_format(name) -> str:
    """Format name → the same name; raises FormatError naming the known ones."""
    if name not in FORMATS:
        raise FormatError(f"unknown model format {name!r} (known: {', '.join(FORMATS)})")
    return name


def check_servable(handler, name) -> str:
    """Handler and a format name → the same name; raises FormatError for a model brought as a
    program in any format but eager."""
    if name != "eager" and isinstance(handler.model, BroughtProgram):
        raise FormatError(f"format {name} is not offered for a model brought as a "
                          f"{handler.model.program_format}: compile, aoti and int8 rebuild the "
                          "model from its Python layers, which a program file does not carry; "
                          "serve it eager (model-config handler.format: eager)")
    return name


def format_in(model_dir, settings=None) -> str:
    """Model dir of an unpacked .mar, and its model-config → the format to serve: the
    FORMAT_FILE archive.sh wrote, else model-config handler.format, else eager."""
    written = Path(model_dir) / FORMAT_FILE
    if written.is_file():
        return check_format(written.read_text().strip())
    handler_settings = (settings or {}).get("handler") or {}
    return check_format(handler_settings.get("format") or "eager")


def example_batch(handler, rows=2):
    """Handler → a model input of `rows` copies of its family's example, as collate builds it.

    Two rows by default: exporting or compiling with one row would fix the
    batch size at one.
    """
    return to_device(handler.collate([handler.example_input() for _ in range(rows)]), handler.device)


def batch_dims(batch) -> tuple:
    """Example model input → torch.export dynamic shapes: dim 0 of every tensor is the batch, and
    the further dimensions of token ids (integer [N, T] or [N, T, ids per token]) are the text
    length and the ids per token."""
    batch_size = torch.export.Dim("batch", min=1, max=MAX_EXPORT_ROWS)
    length = torch.export.Dim("length", min=1, max=MAX_EXPORT_ROWS)
    width = torch.export.Dim("ids_per_token", min=1, max=MAX_EXPORT_ROWS)
    parts = batch if isinstance(batch, tuple) else (batch,)
    token_dims = (batch_size, length, width)
    return tuple(dict(enumerate(token_dims[:part.dim()]))
                 if part.dim() >= 2 and not part.is_floating_point() else {0: batch_size}
                 for part in parts)


def call(model, batch):
    """Model (any format) and a batch (tensor or tuple of tensors) → its output."""
    return model(*batch) if isinstance(batch, tuple) else model(batch)


def build_package(handler, path) -> Path:
    """Handler with its eager model → an AOTInductor .pt2 at `path`, for batches of 1 to MAX_EXPORT_ROWS.

    Needs a C++ compiler (g++) on this machine; the package runs on CPUs like this one.
    """
    if handler.device.type != "cpu":
        raise FormatError("aoti packages are built for the CPU")
    check_servable(handler, "aoti")
    batch = example_batch(handler)
    parts = batch if isinstance(batch, tuple) else (batch,)
    try:
        program = torch.export.export(handler.model, parts, dynamic_shapes=batch_dims(batch))
    except Exception as error:  # export names the Python it cannot trace
        raise FormatError(f"{handler.family} cannot be exported for aoti: "
                          f"{type(error).__name__}: {str(error).splitlines()[0]}") from None
    return Path(torch._inductor.aoti_compile_and_package(program, package_path=str(path)))


def quantized(model: nn.Module) -> nn.Module:
    """float32 eager model → a copy with its Linear and GRU layers quantized to int8 weights."""
    if not any(isinstance(layer, tuple(QUANTIZED_LAYERS)) for layer in model.modules()):
        raise FormatError("int8 quantizes Linear and GRU layers, and this model has none")
    if any(p.dtype != torch.float32 for p in model.parameters()):
        raise FormatError("int8 quantization needs a float32 model")
    with warnings.catch_warnings():
        # torch.ao.quantization is deprecated in favour of torchao; it still works in 2.x.
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic
        return quantize_dynamic(model, QUANTIZED_LAYERS, dtype=torch.qint8)


def warmed_up(handler, model):
    """Handler and its model in some format → the same model, run once on one row, a few and many.

    Done in the worker's start-up so the first request pays none of it: for
    compile, the compilation itself (Dynamo specializes on one row, and on some
    layers' small batches); for aoti, the package's lazy set-up (about 200 ms).
    The inputs are made outside inference_mode, like requests', or their
    dispatch keys differ and the first request compiles again.
    """
    for rows in WARM_UP_ROWS:
        batch = example_batch(handler, rows)
        with torch.inference_mode():
            call(model, batch)
    return model


def compiled(handler) -> nn.Module:
    """Handler with its eager model → torch.compile'd model, already compiled for any batch size."""
    return warmed_up(handler, torch.compile(handler.model, dynamic=True))


def served_model(handler, name, package=None):
    """Handler with its eager model, a format name (and the .pt2 for aoti) → the callable to serve."""
    check_servable(handler, check_format(name))
    if name == "eager":
        return handler.model
    if name == "int8":
        return quantized(handler.model)
    if name == "compile":
        return compiled(handler)
    if package is None or not Path(package).is_file():
        raise FormatError(f"format aoti needs its {PACKAGE_FILE}; build the archive with "
                          "./archive.sh --format aoti")
    if handler.device.type != "cpu":
        raise FormatError("aoti packages are built for the CPU; serve this model eager on a GPU")
    return warmed_up(handler, torch._inductor.aoti_load_package(str(package)))


def package_checkpoint(checkpoint_path, package_path, threads=1) -> Path:
    """Checkpoint file → its AOTInductor .pt2 at `package_path`, built with `threads` torch threads
    (the serving worker's count); what archive.sh --format aoti runs."""
    torch.set_num_threads(int(threads))
    checkpoint = load_checkpoint(checkpoint_path)
    handler = handler_class(checkpoint["family"])(checkpoint)
    return build_package(handler, package_path)


if __name__ == "__main__":  # python -m handlers.formats CHECKPOINT PACKAGE [THREADS]
    import sys

    try:
        print(package_checkpoint(*sys.argv[1:4]))
    except FormatError as error:
        sys.exit(f"archive.sh: {error}")
