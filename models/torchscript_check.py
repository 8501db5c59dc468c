"""Whether a TorchScript file (torch.jit.save) is safe to hand to torch.jit.load, and whether
what it runs is only tensor arithmetic.

torch.jit.load reads its pickles with TorchScript's own unpickler, which resolves only
TorchScript classes and torch internals, and compiles code/ as TorchScript, not Python.
Still, TorchScript can call aten::save (it writes a file), torchbind classes and RPC, and a
class's __setstate__ runs while the file loads. So, before loading: the layout must be what
torch.jit.save writes, every pickle may name only the globals torch.jit.save writes, and the
code may name no file-writing, RPC or foreign operator; after loading, every operator the
forward graph runs must be an aten, prim or quantized one.
"""

import ast
import io
import re

import torch

from models.program_files import ModelZip, ProgramError, pickle_globals

ENTRY = re.compile(r"version|byteorder|\.data/version|\.data/serialization_id|"
                   r"(data|constants|traced_inputs)\.pkl|(data|constants|traced_inputs)/\d+|"
                   r"code/[A-Za-z0-9_/.]+\.py(\.debug_pkl)?|extra/.+")
# The globals of the pickles torch.jit.save wrote for scripted, traced and quantized modules
# with tensors of every dtype, lists, dicts and tuples (the list is from those files).
PICKLED_GLOBAL = re.compile(
    r"__torch__\.(?!torch\.classes\.)[A-Za-z0-9_.]+|__torch__\.torch\.classes\.quantized\.\w+|"
    r"collections\.OrderedDict|torch\.\w+Storage|torch\._utils\._rebuild_(tensor|tensor_v2|qtensor)|"
    r"torch\.jit\._pickle\.\w+|torch\.per_(tensor|channel)_(affine|symmetric|affine_float_qparams)")
OPERATOR_NAMESPACES = {"aten", "prim", "quantized"}
# Operators that reach outside the process: a file written, a remote call.
REFUSED_WORDS = re.compile(r"save|rpc\w*|distributed")


def check_code_names(model_zip: ModelZip, name: str):
    """Refuses TorchScript source that names a refused operator, a foreign operator namespace or
    a torchbind class beyond quantized ones."""
    where = model_zip.where(name)
    try:
        tree = ast.parse(model_zip.read(name).decode("utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        raise ProgramError(f"{where}: not TorchScript source as torch.jit.save writes it") from None
    for node in ast.walk(tree):
        words = dotted(node).split(".") if isinstance(node, ast.Attribute) else []
        if not words:
            continue
        foreign = (words[0] == "ops" and len(words) > 1 and words[1] not in OPERATOR_NAMESPACES)
        torchbind = words[:3] == ["__torch__", "torch", "classes"] and words[3:4] not in (
            [], ["quantized"])
        if foreign or torchbind or any(REFUSED_WORDS.fullmatch(word) for word in words):
            raise ProgramError(f"{where}: calls {'.'.join(words)}, which reaches outside the "
                               "model (files, other processes, foreign operators)")


def dotted(node) -> str:
    """An attribute chain like ops.aten.save → "ops.aten.save"; "" when it does not start at a name."""
    words = []
    while isinstance(node, ast.Attribute):
        words.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(words)]) if isinstance(node, ast.Name) else ""


def check_torchscript(model_zip: ModelZip):
    """A TorchScript file's zip → nothing when torch.jit.load may read it; raises ProgramError
    naming the entry otherwise. Runs nothing of the file."""
    for name in model_zip.names:
        if not ENTRY.fullmatch(name):
            raise ProgramError(f"{model_zip.where(name)}: not part of the layout "
                               "torch.jit.save writes")
        if name.endswith("pkl"):
            pickle_globals(model_zip.read(name), PICKLED_GLOBAL.fullmatch, model_zip.where(name))
        elif name.startswith("code/"):
            check_code_names(model_zip, name)


def operators(block):
    """A TorchScript graph or block → the kind of every node in it, nested blocks included."""
    for node in block.nodes():
        yield node.kind()
        for inner in node.blocks():
            yield from operators(inner)


def check_forward_operators(module, what: str):
    """A loaded TorchScript module → nothing when its forward, with every call inlined, runs only
    aten, prim and quantized operators that stay inside the process."""
    for kind in operators(module.inlined_graph):
        namespace, _, name = kind.partition("::")
        if namespace not in OPERATOR_NAMESPACES or REFUSED_WORDS.fullmatch(name):
            raise ProgramError(f"{what}: forward runs {kind}, which reaches outside the model")


def load_torchscript(data: bytes, what: str):
    """A TorchScript file's bytes → its module on the CPU, once check_torchscript accepts them
    and its forward runs only in-process operators."""
    check_torchscript(ModelZip(data, what))
    module = torch.jit.load(io.BytesIO(data), map_location="cpu")
    check_forward_operators(module, what)
    return module
