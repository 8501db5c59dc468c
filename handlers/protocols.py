"""KServe's v1 and v2 (Open Inference Protocol) bodies around a family's plain requests and answers.

A request's protocol is read from its body: a JSON object whose only key is
"instances" is v1; one with "inputs" and at most "id", "parameters" and
"outputs" beside it is v2; anything else is the family's plain body, read as
before (no family's plain JSON uses these keys). `open_envelope` splits a v1
or v2 request into one plain Request per example, so that the examples of
every request in a batch share one forward pass; `close_envelope` puts their
answers back together in the request's own protocol. In v1 and v2 one bad
example makes its whole request a 400 {"error": "instance N: ..."}, the error
shape KServe clients read; the other requests in the batch are untouched.

v2 tensors map to a family's plain JSON through the family's `v2_inputs` and
`v2_outputs` declarations (a tuple of `Tensor`): each input tensor is a field
of the plain JSON object of one example (or, with `columns`, a row of fields),
each output tensor a field of its plain answer.
"""

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass, replace
from typing import Optional

from handlers.messages import (JSON_CONTENT_TYPE, Answer, InvalidInput, Request, field_names,
                               json_object, json_type, json_value, media_type)

PLAIN, V1, V2 = "plain", "v1", "v2"
V2_KEYS = ("inputs", "id", "parameters", "outputs")
TENSOR_FIELDS = ("name", "shape", "datatype", "data", "parameters")
# Examples in one v1 or v2 request, as diabetes_mlp's records per request:
# bounds how long one request can hold up the others in its batch.
MAX_EXAMPLES = 1000
# A body holding neither key cannot be an envelope, and is handed on unparsed.
ENVELOPE_KEYS = (b'"instances"', b'"inputs"')
ANY_ENVELOPE_KEY = re.compile(b"|".join(map(re.escape, ENVELOPE_KEYS)))  # one pass over the body

INTEGER_RANGES = {
    "INT8": (-2**7, 2**7 - 1), "INT16": (-2**15, 2**15 - 1),
    "INT32": (-2**31, 2**31 - 1), "INT64": (-2**63, 2**63 - 1),
    "UINT8": (0, 2**8 - 1), "UINT16": (0, 2**16 - 1),
    "UINT32": (0, 2**32 - 1), "UINT64": (0, 2**64 - 1),
}


@dataclass(frozen=True)
class Tensor:
    """A named v2 tensor a family reads or answers, and where it sits in the family's plain JSON."""

    name: str
    datatypes: tuple  # accepted in a request; an answer is labelled with the first
    shape: tuple = ()  # one example's shape after the batch dimension; None: any length
    field: Optional[str] = None  # the plain JSON field (default: name)
    columns: tuple = ()  # inputs: the plain fields of a row, in order, for shape (len(columns),)
    item: Optional[str] = None  # outputs: the key read from each entry of a list field
    required: bool = True

    @property
    def plain_field(self) -> str:
        return self.field or self.name


@dataclass
class Envelope:
    """A request as sent: its protocol, its examples for the pipeline, what its answer needs."""

    protocol: str
    examples: list  # plain Requests, one per example; empty when `error` is set
    error: Optional[Answer] = None  # the request's answer when the envelope itself is bad
    id: Optional[str] = None  # v2: echoed in the answer
    outputs: Optional[list] = None  # v2: the output names asked for (None: all)
    explain: bool = False


def error_answer(status: int, message: str) -> Answer:
    """An error in v1 or v2 → KServe's error body, {"error": message}, with its status."""
    return Answer(status, {"error": message})


def refuse(handler, error: InvalidInput) -> Answer:
    """A v1 or v2 request refused as a whole → its 400 in KServe's shape, counted under its reason
    (the examples' own refusals are counted by ModelHandler.refuse)."""
    handler.metrics.count_invalid(error.reason)
    return error_answer(error.status, error.message)


# Reading a request.

def envelope_body(request: Request):
    """Request → its decoded JSON value when it may be a v1 or v2 body, else None (read as plain).

    Only JSON can be an envelope: a body the server parsed, a JSON content type,
    or one that starts with "{" and is not sent as text/* (text is a review).
    """
    if request.parsed:
        return request.body
    kind, raw = media_type(request), request.body
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if not isinstance(raw, (bytes, bytearray)):
        return None
    if not (kind.endswith("json") or (not kind.startswith("text/")
                                      and raw.lstrip()[:1] == b"{")):
        return None
    if not ANY_ENVELOPE_KEY.search(raw):
        return None
    try:
        return json_value(request)
    except InvalidInput:  # the family names the parse error
        return None


def protocol_of(value) -> str:
    """A decoded JSON body → "v1", "v2" or "plain"."""
    if isinstance(value, dict):
        if set(value) == {"instances"}:
            return V1
        if "inputs" in value and all(key in V2_KEYS for key in value):
            return V2
    return PLAIN


def open_envelope(request: Request, handler) -> Envelope:
    """One request → its Envelope: a plain request as one example (parsed once), a v1 or v2
    request split into its examples, or the 400 its envelope deserves."""
    value = envelope_body(request)
    protocol = PLAIN if value is None else protocol_of(value)
    if protocol == PLAIN:
        if value is not None and not request.parsed:  # spare the family a second parse
            request = replace(request, body=value, parsed=True)
        return Envelope(PLAIN, [request])
    try:
        if protocol == V1:
            return Envelope(V1, v1_examples(value["instances"], request.explain),
                            explain=request.explain)
        if request.explain:
            raise InvalidInput("the v2 protocol has no explanations; send a plain or v1 body")
        return Envelope(V2, v2_examples(value, handler), id=v2_id(value),
                        outputs=requested_outputs(value, handler))
    except InvalidInput as error:
        return Envelope(protocol, [], error=refuse(handler, error))


def count_examples(count: int, what: str):
    """Examples in a request → nothing; raises InvalidInput outside 1..MAX_EXAMPLES."""
    if count == 0:
        raise InvalidInput(f"{what} is empty; send from 1 to {MAX_EXAMPLES:,} examples")
    if count > MAX_EXAMPLES:
        raise InvalidInput(f"{what} holds {count:,} examples; the limit is {MAX_EXAMPLES:,} "
                           "per request", reason="too_large")


def v1_examples(instances, explain: bool) -> list:
    """v1 "instances" → one plain Request each; raises InvalidInput naming a bad instance."""
    if not isinstance(instances, list):
        raise InvalidInput(f'"instances" must be a list, not {json_type(instances)}')
    count_examples(len(instances), '"instances"')
    return [instance_request(instance, index, explain) for index, instance in enumerate(instances)]


def instance_request(instance, index: int, explain: bool) -> Request:
    """One v1 instance → the plain Request it stands for: {"b64": ...} → its bytes (KServe's
    convention for binary data), a string → text/plain, any other JSON value as is."""
    if isinstance(instance, dict) and set(instance) == {"b64"}:
        encoded = instance["b64"]
        if not isinstance(encoded, str):
            raise InvalidInput(f'instance {index}: "b64" must be a base64 string, '
                               f"not {json_type(encoded)}")
        try:
            data = base64.b64decode("".join(encoded.split()), validate=True)
        except (binascii.Error, ValueError) as error:
            raise InvalidInput(f'instance {index}: "b64" is not valid base64: {error}') from None
        return Request(data, None, explain=explain)
    if isinstance(instance, str):
        return Request(instance, "text/plain", explain=explain)
    return Request(instance, JSON_CONTENT_TYPE, parsed=True, explain=explain)


def v2_id(body: dict):
    """v2 request → its "id" (None when absent); raises InvalidInput when it is not a string."""
    value = body.get("id")
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f'"id" must be a string, not {json_type(value)}')
    return value


def requested_outputs(body: dict, handler):
    """v2 request → the output names it asks for (None: all); raises InvalidInput for unknown."""
    if body.get("outputs") is None:
        return None
    asked = body["outputs"]
    known = [tensor.name for tensor in getattr(handler, "v2_outputs", ())]
    if not isinstance(asked, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str)
                                             for o in asked):
        raise InvalidInput('"outputs" must be a list of objects like {"name": "..."}')
    unknown = [o["name"] for o in asked if o["name"] not in known]
    if unknown:
        raise InvalidInput(f"unknown output(s) {field_names(unknown)}; this model answers "
                           f"{', '.join(known)}")
    return [o["name"] for o in asked]


def v2_examples(body: dict, handler) -> list:
    """v2 request → one plain Request per example along the batch dimension; raises
    InvalidInput naming the input whose name, datatype, shape or data is wrong."""
    declared = {tensor.name: tensor for tensor in getattr(handler, "v2_inputs", ())}
    if not declared:
        raise InvalidInput(f"{handler.family} declares no v2 inputs; send a plain or v1 body")
    inputs = body["inputs"]
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput('"inputs" must be a non-empty list of tensors like '
                           '{"name", "shape", "datatype", "data"}')
    rows = {}
    for position, tensor in enumerate(inputs):
        name, values = read_tensor(tensor, position, declared)
        if name in rows:
            raise InvalidInput(f'input "{name}" is sent twice', reason="unknown_field")
        rows[name] = values
    missing = [name for name, tensor in declared.items() if tensor.required and name not in rows]
    if missing:
        raise InvalidInput(f"missing input(s) {', '.join(missing)}; this model reads "
                           f"{reads(handler)}", reason="missing_field")
    sizes = {name: len(values) for name, values in rows.items()}
    if len(set(sizes.values())) > 1:
        raise InvalidInput("inputs disagree on the batch size (first dimension): "
                           + ", ".join(f'"{name}" has {size}' for name, size in sizes.items()))
    count = next(iter(sizes.values()))
    count_examples(count, "the batch")
    examples = []
    for index in range(count):
        fields = {}
        for name, values in rows.items():
            tensor = declared[name]
            if tensor.columns:
                fields.update(zip(tensor.columns, values[index]))
            else:
                fields[tensor.plain_field] = values[index]
        examples.append(Request(fields, JSON_CONTENT_TYPE, parsed=True))
    return examples


def reads(handler) -> str:
    """Handler → its v2 inputs in words, for error messages."""
    return "; ".join(f'"{t.name}" {"/".join(t.datatypes)} {shape_text(t)}'
                     + ("" if t.required else " (optional)")
                     for t in getattr(handler, "v2_inputs", ()))


def shape_text(tensor: Tensor) -> str:
    """Tensor → its expected shape as written in messages, like [N, 10]."""
    sizes = ["any" if size is None else str(size) for size in tensor.shape]
    return "[" + ", ".join(["N", *sizes]) + "]"


def read_tensor(tensor, position: int, declared: dict):
    """One v2 input object → (name, one value per example: a scalar, or nested lists for an
    example's shape); raises InvalidInput naming what is wrong."""
    json_object(tensor, TENSOR_FIELDS, required=TENSOR_FIELDS[:4], what=f"input {position}",
                example='{"name", "shape", "datatype", "data"}')
    name = tensor["name"]
    if not isinstance(name, str):
        raise InvalidInput(f'input {position}: "name" must be a string, not {json_type(name)}')
    if name not in declared:
        raise InvalidInput(f'unknown input "{name[:40]}"; this model reads {reads_names(declared)}',
                           reason="unknown_field")
    spec, what = declared[name], f'input "{name}"'
    datatype = tensor["datatype"]
    if datatype not in spec.datatypes:
        shown = datatype if isinstance(datatype, str) else json_type(datatype)
        raise InvalidInput(f"{what} has datatype {str(shown)[:20]}; send "
                           f"{' or '.join(spec.datatypes)}", reason="wrong_type")
    shape = tensor["shape"]
    if not (isinstance(shape, list) and all(isinstance(size, int) and not isinstance(size, bool)
                                            and size >= 0 for size in shape)):
        raise InvalidInput(f'{what}: "shape" must be a list of non-negative integers')
    if len(shape) != 1 + len(spec.shape) or any(
            want is not None and got != want for got, want in zip(shape[1:], spec.shape)):
        raise InvalidInput(f"{what} has shape {shape}; expected {shape_text(spec)}, "
                           "N examples", reason="wrong_type")
    data = flatten(tensor["data"], what)
    if len(data) != math.prod(shape):
        raise InvalidInput(f"{what} has {len(data):,} values; its shape {shape} holds "
                           f"{math.prod(shape):,}")
    for index, value in enumerate(data):
        check_value(value, datatype, f"{what}: value {index}")
    per_example = math.prod(shape[1:])
    if not spec.shape:
        return name, data
    return name, [nest(data[start:start + per_example], shape[1:])
                  for start in range(0, len(data), per_example)]


def reads_names(declared: dict) -> str:
    return ", ".join(f'"{name}"' for name in declared)


def flatten(data, what: str) -> list:
    """v2 "data" (flat, or nested lists in row-major order) → one flat list of values."""
    if not isinstance(data, list):
        raise InvalidInput(f'{what}: "data" must be a list, not {json_type(data)}')
    values, stack = [], [iter(data)]
    while stack:  # a loop, not recursion: nesting depth is the client's to choose
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            values.append(item)
        else:
            stack.pop()
    return values


def nest(values: list, shape: list) -> list:
    """A flat row-major list and its shape (one dimension or more) → nested lists."""
    if len(shape) == 1:
        return list(values)
    step = math.prod(shape[1:])
    return [nest(values[i:i + step], shape[1:]) for i in range(0, len(values), step)]


def check_value(value, datatype: str, what: str):
    """One tensor element → nothing; raises InvalidInput when it does not fit its datatype."""
    if datatype == "BYTES":
        ok, wanted = isinstance(value, str), "a string"
    elif datatype == "BOOL":
        ok, wanted = isinstance(value, bool), "true or false"
    elif datatype in INTEGER_RANGES:
        low, high = INTEGER_RANGES[datatype]
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        wanted = f"an integer from {low} to {high}"
    else:  # FP16, FP32, FP64, BF16
        ok, wanted = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    if not ok:
        shown = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        got = json_type(value) if shown is None else (str(shown) if len(str(shown)) <= 30
                                                      else "a larger number")
        raise InvalidInput(f"{what} must be {wanted} ({datatype}), not {got}", reason="wrong_type")


# Writing the answer.

def close_envelope(envelope: Envelope, answers: list, handler) -> Answer:
    """An Envelope and the Answers of its examples → the request's one Answer, in its protocol."""
    if envelope.error is not None:
        return envelope.error
    if envelope.protocol == PLAIN:
        return answers[0]
    word = "instance" if envelope.protocol == V1 else "example"
    for index, answer in enumerate(answers):
        if answer.status != 200:
            return error_answer(answer.status, f"{word} {index}: {message_of(answer)}")
    bodies = [answer.body for answer in answers]
    if envelope.protocol == V1:
        return Answer(200, {"explanations" if envelope.explain else "predictions": bodies})
    try:
        outputs = v2_outputs(bodies, handler, envelope.outputs)
    except InvalidInput as error:
        return refuse(handler, error)
    body = {"model_name": handler.family, "model_version": str(handler.checkpoint["version"])}
    if envelope.id is not None:
        body["id"] = envelope.id
    body["outputs"] = outputs
    return Answer(200, body)


def message_of(answer: Answer) -> str:
    """An error Answer, in the family's shape {"message"} or KServe's {"error"} → its message."""
    body = answer.body
    for key in ("message", "error"):
        if isinstance(body, dict) and isinstance(body.get(key), str):
            return body[key]
    return json.dumps(body)


def v2_outputs(bodies: list, handler, wanted) -> list:
    """Plain answers of every example → the declared output tensors (those `wanted`, or all)."""
    outputs = []
    for tensor in getattr(handler, "v2_outputs", ()):
        if wanted is not None and tensor.name not in wanted:
            continue
        values = [body[tensor.plain_field] for body in bodies]
        if tensor.item:
            values = [[entry[tensor.item] for entry in value] for value in values]
        shapes = {tuple(shape_of(value)) for value in values}
        if len(shapes) > 1:
            raise InvalidInput(f'output "{tensor.name}" has a different shape in different '
                               f"examples ({', '.join(str(list(s)) for s in sorted(shapes))}), "
                               "but a v2 tensor is rectangular: ask for as many in every example")
        outputs.append({"name": tensor.name, "shape": [len(values), *shapes.pop()],
                        "datatype": tensor.datatypes[0], "data": flatten(values, tensor.name)})
    return outputs


def shape_of(value) -> list:
    """A plain answer value (scalar or nested lists) → its shape."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape
