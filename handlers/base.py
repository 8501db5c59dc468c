"""The serving steps every model family shares, with no TorchServe import.

A family handler subclasses `ModelHandler` and says only what is specific:
how to `decode` one request, `preprocess` it into model input and
`postprocess` the model's output into an answer. The base owns the rest:
rebuilding the model from its checkpoint, device placement, validating each
request on its own, one batched forward pass under `torch.inference_mode()`
over the valid requests only, and exactly one answer per request.
"""

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Optional

import torch

from handlers.formats import served_model
from handlers.metrics import DEFAULT_REASON, NO_METRICS
from models.checkpoint import build_model, load_checkpoint

JSON_CONTENT_TYPE = "application/json"
# Seconds a batch may spend on explanations before refusing the rest (503):
# with one worst-case explanation (5-12 s, by CPU load) on top it stays inside
# the 30 s responseTimeout, past which TorchServe would kill the worker and fail
# the whole batch.
EXPLAIN_BUDGET_S = 5


class InvalidInput(Exception):
    """A request the model cannot answer; becomes a 400 JSON error that names the problem.

    `reason` is a key of handlers.metrics.REASONS: the label it is counted under.
    """

    status = 400

    def __init__(self, message: str, reason: str = DEFAULT_REASON):
        super().__init__(message)
        self.message = message
        self.reason = reason

    def to_json(self) -> dict:
        return {"code": self.status, "type": "InvalidInput", "message": self.message}


@dataclass
class Request:
    """One request as the server hands it over: raw bytes, text, or a JSON value the server parsed."""

    body: Any  # bytes, bytearray or str as sent; a JSON value when `parsed`; None when absent
    content_type: Optional[str] = None
    parsed: bool = False  # the server already decoded body as JSON (it may be null, a string, …)
    explain: bool = False  # asks for an explanation of the prediction, not the prediction

    def __post_init__(self):
        # Only a decoded JSON value can be a dict, list, number or boolean.
        if self.body is not None and not isinstance(self.body, (bytes, bytearray, str)):
            self.parsed = True


@dataclass
class Answer:
    """One response: an HTTP status and a JSON-serializable body."""

    status: int
    body: Any

    def to_bytes(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


def as_bytes(body) -> bytes:
    """Request body (bytes, bytearray, str) → bytes; raises InvalidInput when empty or absent."""
    if body is None:
        raise InvalidInput("empty request body", reason="empty_body")
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, (bytes, bytearray)):
        raise InvalidInput(f"unexpected request body of type {type(body).__name__}",
                           reason="wrong_type")
    if len(body) == 0:
        raise InvalidInput("empty request body", reason="empty_body")
    return bytes(body)


def media_type(request: Request) -> str:
    """Request → its content type without parameters, lower case ("" when none was sent)."""
    return (request.content_type or "").split(";")[0].strip().lower()


def is_json(request: Request) -> bool:
    """Whether the request carries JSON: parsed by the server, a JSON content type, or a body
    starting like a JSON object or array."""
    if request.parsed or media_type(request).endswith("json"):
        return True
    raw = request.body.encode("utf-8") if isinstance(request.body, str) else (request.body or b"")
    return isinstance(raw, (bytes, bytearray)) and bytes(raw).lstrip()[:1] in (b"{", b"[")


def json_value(request: Request):
    """Request → its decoded JSON value; raises InvalidInput naming the parse error."""
    if request.parsed:
        return request.body
    raw = as_bytes(request.body)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"JSON body is not valid UTF-8: {error}", reason="malformed_json") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"malformed JSON: {error}", reason="malformed_json") from None
    except RecursionError:
        raise InvalidInput("malformed JSON: nested too deeply", reason="malformed_json") from None
    except ValueError as error:  # integers longer than sys.get_int_max_str_digits()
        raise InvalidInput(f"malformed JSON: {str(error).split(';')[0]}",
                           reason="malformed_json") from None


def json_type(value) -> str:
    """A decoded JSON value → its JSON type in words ("a string", "null", …), for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {type(None): "null", str: "a string", list: "an array", dict: "an object"}.get(
        type(value), type(value).__name__)


def field_names(names, most=5, longest=40) -> str:
    """Field names a client sent → a short list for an error message, however many or long they are."""
    names = [str(name) for name in names]
    shown = [name if len(name) <= longest else name[:longest] + "…" for name in names[:most]]
    return ", ".join(shown) + (f" and {len(names) - most:,} more" if len(names) > most else "")


def json_object(value, fields, required=(), what="JSON body", example=""):
    """Decoded JSON → the same object; raises InvalidInput naming a wrong type, missing or unknown fields.

    `fields` lists every accepted field, `required` those that must be there;
    `what` names the object in messages ("JSON body", "record 3").
    """
    if not isinstance(value, dict):
        like = f" like {example}" if example else ""
        raise InvalidInput(f"{what} must be an object{like}, not {json_type(value)}",
                           reason="wrong_type")
    missing = [name for name in required if name not in value]
    unknown = sorted(name for name in value if name not in fields)
    problems = []
    if missing:
        problems.append(f"is missing field(s): {field_names(missing)}")
    if unknown:
        problems.append(f"has unknown field(s): {field_names(unknown)}")
    if problems:
        raise InvalidInput(f"{what} {' and '.join(problems)} (fields: {', '.join(fields)})",
                           reason="missing_field" if missing else "unknown_field")
    return value


def pick_device(gpu_id=None) -> torch.device:
    """GPU id assigned by the server (or None) → cuda:<id> when CUDA is present, else the CPU."""
    if gpu_id is not None and torch.cuda.is_available():
        return torch.device(f"cuda:{int(gpu_id)}")
    return torch.device("cpu")


# cgroup v2's CPU limit: "<quota> <period>" in microseconds, or "max <period>" for none.
CPU_QUOTA_FILE = "/sys/fs/cgroup/cpu.max"


def usable_cores(quota_file=None) -> int:
    """→ the cores this process may use: its CPU affinity, capped by a container's CPU limit
    (a pod limited to 2 CPUs on a 64-core node sees 64 cores in its affinity)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    try:
        with open(quota_file or CPU_QUOTA_FILE) as file:
            quota, period = file.read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 limit to read: the affinity is the limit
    return cores


def threads_per_worker(workers: int, cores=None) -> int:
    """Worker count → intra-op threads, so that workers × threads never exceeds the usable cores."""
    cores = usable_cores() if cores is None else cores
    return max(1, cores // max(1, int(workers)))


class ModelHandler:
    """Shared batch pipeline: decode → preprocess per request, one batched inference, postprocess."""

    family: str = ""  # the checkpoint family this handler serves
    sample: tuple = ()  # (file under samples/, content type): the request make serve suggests
    model_dtype = torch.float32  # the dtype the model computes in
    metrics = NO_METRICS  # where answer() reports; the server adapter sets its own

    def __init__(self, checkpoint: dict, device="cpu", model_format="eager", package=None):
        if checkpoint["family"] != self.family:
            raise ValueError(f"{type(self).__name__} serves {self.family!r}, "
                             f"not a {checkpoint['family']!r} checkpoint")
        self.checkpoint = checkpoint
        self.labels = list(checkpoint["labels"])
        self.device = torch.device(device)
        # The eager module: explanations and the handlers' attributes use it;
        # `served` is the same model in the format chosen for inference.
        self.model = build_model(checkpoint, self.device).to(self.model_dtype)
        self.model_format = model_format
        self.served = served_model(self, model_format, package)

    @classmethod
    def from_checkpoint_file(cls, path, device="cpu", model_format="eager", package=None):
        """Checkpoint path (and a format, with its .pt2 for aoti) → handler with its model loaded
        (weights_only) on `device`."""
        return cls(load_checkpoint(path), device, model_format, package)

    def example_input(self):
        """→ one request's model input, any valid values: what export and compile trace."""
        raise NotImplementedError

    # The steps a family overrides.

    def decode(self, request: Request):
        """Request → decoded payload (default: its JSON value); raises InvalidInput."""
        return json_value(request)

    def preprocess(self, payload):
        """Decoded payload → model input (a tensor, or a tuple of tensors) with a leading
        dimension of one row per example; raises InvalidInput."""
        raise NotImplementedError

    def collate(self, inputs: list):
        """Per-request model inputs → one batch (default: concatenated along the first dimension)."""
        if isinstance(inputs[0], tuple):
            return tuple(torch.cat(parts) for parts in zip(*inputs))
        return torch.cat(inputs)

    def inference(self, batch):
        """Batch on the device → batched model output, one row per example."""
        return self.served(*batch) if isinstance(batch, tuple) else self.served(batch)

    def postprocess(self, payload, output: torch.Tensor):
        """One request's payload and its slice of the output (on the CPU) → JSON-serializable answer."""
        raise NotImplementedError

    def explain(self, payload, model_input):
        """One request's payload and model input (on the device) → JSON-serializable explanation of
        the model's answer; raises InvalidInput. Runs outside inference_mode, so gradients work."""
        raise InvalidInput(f"{self.family} gives no explanations; ask /predictions instead",
                           reason="not_offered")

    # The shared pipeline.

    def handle(self, requests: list) -> list:
        """Requests, each plain, KServe v1 or v2 → exactly one Answer each, in its own protocol;
        the examples of all requests share one `answer` call (one batch), and a bad request
        never fails the others."""
        from handlers import protocols  # it builds on this module's Request and Answer

        envelopes = [protocols.open_envelope(request, self) for request in requests]
        examples = [example for envelope in envelopes for example in envelope.examples]
        answers = iter(self.answer(examples) if examples else [])
        return [protocols.close_envelope(envelope, [next(answers) for _ in envelope.examples], self)
                for envelope in envelopes]

    def answer(self, requests: list) -> list:
        """Requests, one example each → exactly one Answer each, from one batched forward pass;
        each step's time, the batch size and every refusal's reason go to `self.metrics`."""
        answers = [None] * len(requests)
        payloads, inputs = {}, {}
        started = time.perf_counter()
        for index, request in enumerate(requests):
            try:
                payloads[index] = self.decode(request)
                inputs[index] = self.preprocess(payloads[index])
            except InvalidInput as error:
                answers[index] = self.refuse(error)
        self.metrics.record_time("preprocess", time.perf_counter() - started)

        # Explanations are computed one request at a time: each runs the model
        # many times with gradients, and shares nothing with the batch.
        started = time.monotonic()
        explained = [i for i in sorted(inputs) if requests[i].explain]
        for position, index in enumerate(explained):
            if position and time.monotonic() - started > EXPLAIN_BUDGET_S:
                inputs.pop(index)
                answers[index] = Answer(503, {"code": 503, "type": "Busy", "message": (
                    "too many explanations arrived together; send this one again")})
                continue
            try:
                explanation = self.explain(payloads[index], to_device(inputs.pop(index), self.device))
                answers[index] = Answer(200, explanation)
            except InvalidInput as error:
                answers[index] = self.refuse(error)

        valid = sorted(inputs)
        if valid:
            started = time.perf_counter()
            batch = to_device(self.collate([inputs[i] for i in valid]), self.device)
            with torch.inference_mode():
                outputs = self.inference(batch).cpu()
            self.metrics.record_time("inference", time.perf_counter() - started)
            sizes = [rows(inputs[i]) for i in valid]
            self.metrics.record_batch(sum(sizes))
            started = time.perf_counter()
            for index, output in zip(valid, torch.split(outputs, sizes)):
                answers[index] = Answer(200, self.postprocess(payloads[index], output))
            self.metrics.record_time("postprocess", time.perf_counter() - started)
        return answers

    def refuse(self, error: InvalidInput) -> Answer:
        """A refusal → its 400 Answer, counted under its reason."""
        self.metrics.count_invalid(error.reason)
        return Answer(error.status, error.to_json())


def rows(model_input) -> int:
    """A request's model input (tensor or tuple of tensors) → how many examples it holds."""
    return len(model_input[0] if isinstance(model_input, tuple) else model_input)


def to_device(batch, device):
    """Tensor or tuple of tensors → the same on `device`."""
    if isinstance(batch, tuple):
        return tuple(part.to(device) for part in batch)
    return batch.to(device)
