"""Whether a torch.export .pt2 is safe to hand to torch.export.load: every way that loader, or
running the program, could unpickle or execute something is checked for first.

What torch 2.x's loader would run, and what refuses it here:
- weights and constants marked use_pickle: torch.load(weights_only=False); custom and opaque
  objects: pickle.loads / torch's own unpickler; legacy weights/constants files: unpickled
  with a fallback to weights_only=False → the entries must be raw tensor bytes;
- data/aotinductor/: compiled native code, loaded and run → refused;
- the sample inputs: weights_only=True, and weights_only=False when that fails → loaded here
  with weights_only=True first, so the fallback never runs;
- every shape expression (expr_str): sympy.sympify, which evaluates Python → only the
  symbols, integers and sympy functions export writes;
- guards_code: exec'd as Python by ExportedProgram.module() → must be empty;
- node targets: resolved by name under torch, operator and math → only aten operators and
  the symbolic-size arithmetic export writes;
- a load error makes torch.export.load try the torch 2.7 layout, whose pickles fall back to
  weights_only=False → only the entries of today's layout are accepted.
"""

import io
import json
import re

import torch

from models.program_files import ModelZip, ProgramError, weights_only_refusal

MODEL = "model"  # the one program torch.export.save writes, and torch.export.load returns
FIXED_ENTRIES = {"archive_format", "archive_version", "byteorder", ".data/version",
                 ".data/serialization_id", f"models/{MODEL}.json",
                 f"data/weights/{MODEL}_weights_config.json",
                 f"data/constants/{MODEL}_constants_config.json",
                 f"data/sample_inputs/{MODEL}.pt"}
RAW_TENSORS = re.compile(r"data/weights/weight_\d+|data/constants/tensor_\d+")
ATEN_OPERATOR = re.compile(r"torch\.ops\.aten\.([A-Za-z_][A-Za-z0-9_]*)\.[A-Za-z_][A-Za-z0-9_]*")
# aten::save writes a file; it is an operator like any other to the loader.
REFUSED_OPERATORS = {"save"}
# What export writes for sizes computed from a dynamic batch.
SIZE_ARITHMETIC = {f"_operator.{name}" for name in (
    "getitem", "add", "sub", "mul", "floordiv", "truediv", "mod", "pow", "neg",
    "eq", "ne", "lt", "le", "gt", "ge")} | {f"torch.sym_{name}" for name in (
        "float", "int", "max", "min", "not", "ite", "sqrt")}
# A shape expression's words: sympy constructors, their flags, and torch's size functions.
EXPRESSION_WORDS = {"Symbol", "Integer", "Add", "Mul", "Pow", "Rational", "Max", "Min", "Abs",
                    "True", "False", "positive", "negative", "nonnegative", "integer", "real",
                    "finite", "FloorDiv", "ModularIndexing", "Where", "PythonMod", "Mod",
                    "CleanDiv", "CeilToInt", "FloorToInt", "CeilDiv", "LShift", "RShift",
                    "PowByNatural", "FloatPow", "FloatTrueDiv", "IntTrueDiv", "TruncToFloat",
                    "TruncToInt", "RoundToInt", "RoundDecimal", "ToFloat", "Identity"}
EXPRESSION_TOKEN = re.compile(r"\s+|[A-Za-z_][A-Za-z0-9_]*|'[a-z]+[0-9]+'|-?\d+|[(),=]")


def check_layout(model_zip: ModelZip):
    """Raises ProgramError naming the first entry outside today's one-program pt2 layout."""
    for name in model_zip.names:
        if name.startswith("data/aotinductor/"):
            raise ProgramError(f"{model_zip.where(name)}: AOTInductor compiled code, which "
                               "loading would run; save the program with torch.export.save, "
                               "not aoti_compile_and_package")
        if name.startswith("models/") and name != f"models/{MODEL}.json":
            raise ProgramError(f"{model_zip.where(name)}: a second program; bring one "
                               "program per file")
        if not (name in FIXED_ENTRIES or RAW_TENSORS.fullmatch(name)
                or name.startswith("extra/")):
            raise ProgramError(f"{model_zip.where(name)}: not part of the pt2 layout "
                               f"torch {torch.__version__} writes (pickled objects and legacy "
                               "layouts are refused)")
    if model_zip.read("archive_format") != b"pt2":
        raise ProgramError(f"{model_zip.where('archive_format')}: not 'pt2'")
    missing = sorted(FIXED_ENTRIES - {".data/serialization_id"} - set(model_zip.names))
    if missing:
        raise ProgramError(f"{model_zip.where(missing[0])}: missing; not a torch.export.save file")


def check_payloads(model_zip: ModelZip, config: str):
    """Refuses a weights or constants config entry that would be unpickled, not read as raw bytes."""
    entries = json.loads(model_zip.read(config)).get("config", {})
    for name, entry in entries.items():
        if entry.get("use_pickle") is not False or entry.get("tensor_meta") is None:
            raise ProgramError(f"{model_zip.where(config)}: {name!r} is stored as a pickled "
                               f"object ({entry.get('path_name')}), which loading would "
                               "unpickle; only plain tensors are accepted")


def json_values(value, key):
    """A JSON value → every value stored under `key` anywhere inside it."""
    if isinstance(value, dict):
        for name, inner in value.items():
            if name == key:
                yield inner
            else:
                yield from json_values(inner, key)
    elif isinstance(value, list):
        for inner in value:
            yield from json_values(inner, key)


def check_expression(text, where):
    """Refuses a shape expression that is more than sympy symbols, integers and size functions."""
    tokens = EXPRESSION_TOKEN.findall(text) if isinstance(text, str) else []
    words = [token for token in tokens if token[:1].isalpha() or token[:1] == "_"]
    if "".join(tokens) != text or any(word not in EXPRESSION_WORDS for word in words):
        raise ProgramError(f"{where}: shape expression {str(text)[:80]!r} is not one export "
                           "writes (sympy would evaluate it as Python)")


def check_target(target, where):
    """Refuses a node target that is not an aten operator or size arithmetic."""
    operator = ATEN_OPERATOR.fullmatch(target) if isinstance(target, str) else None
    if (operator and operator.group(1) not in REFUSED_OPERATORS) or target in SIZE_ARITHMETIC:
        return
    raise ProgramError(f"{where}: calls {str(target)[:80]!r}; only aten operators are accepted")


def check_program(model_zip: ModelZip):
    """Refuses guards code, and any node target or shape expression outside what export writes."""
    name = f"models/{MODEL}.json"
    where = model_zip.where(name)
    program = json.loads(model_zip.read(name))
    if program.get("guards_code"):
        raise ProgramError(f"{where}: carries guards_code, Python that running the program "
                           "would exec")
    for target in json_values(program, "target"):
        check_target(target, where)
    for expression in json_values(program, "expr_str"):
        check_expression(expression, where)


def check_sample_inputs(model_zip: ModelZip):
    """Refuses sample inputs that torch.load(weights_only=True) cannot read: torch.export.load
    would retry them with weights_only=False."""
    name = f"data/sample_inputs/{MODEL}.pt"
    try:
        torch.load(io.BytesIO(model_zip.read(name)), map_location="cpu", weights_only=True)
    except Exception as error:
        raise ProgramError(f"{model_zip.where(name)}: sample inputs that only an unsafe load "
                           f"reads ({weights_only_refusal(error)})") from None


def check_exported_program(model_zip: ModelZip):
    """A .pt2's zip → nothing when torch.export.load may read it; raises ProgramError naming the
    entry otherwise. Reads JSON and raw bytes only."""
    check_layout(model_zip)
    check_payloads(model_zip, f"data/weights/{MODEL}_weights_config.json")
    check_payloads(model_zip, f"data/constants/{MODEL}_constants_config.json")
    check_program(model_zip)
    check_sample_inputs(model_zip)


def load_exported_program(data: bytes, what: str):
    """A .pt2's bytes → its ExportedProgram, once check_exported_program accepts them."""
    check_exported_program(ModelZip(data, what))
    return torch.export.load(io.BytesIO(data))
