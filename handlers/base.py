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
from dataclasses import dataclass
from typing import Any, Optional

import torch

from models.checkpoint import build_model, load_checkpoint

JSON_CONTENT_TYPE = "application/json"


class InvalidInput(Exception):
    """A request the model cannot answer; becomes a 400 JSON error that names the problem."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict:
        return {"code": self.status, "type": "InvalidInput", "message": self.message}


@dataclass
class Request:
    """One request as the server hands it over: body already JSON- or text-decoded where it could be."""

    body: Any  # bytes, bytearray, str, or a decoded JSON value; None when absent
    content_type: Optional[str] = None


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
        raise InvalidInput("empty request body")
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, (bytes, bytearray)):
        raise InvalidInput(f"unexpected request body of type {type(body).__name__}")
    if len(body) == 0:
        raise InvalidInput("empty request body")
    return bytes(body)


def is_json(request: Request) -> bool:
    """Whether the request carries JSON: a decoded value, a JSON content type, or a JSON-looking body."""
    if request.body is not None and not isinstance(request.body, (bytes, bytearray, str)):
        return True
    if request.content_type and request.content_type.split(";")[0].strip().lower().endswith("json"):
        return True
    raw = request.body.encode("utf-8") if isinstance(request.body, str) else (request.body or b"")
    return raw.lstrip()[:1] in (b"{", b"[")


def json_value(request: Request):
    """Request → its decoded JSON value; raises InvalidInput naming the parse error."""
    if request.body is not None and not isinstance(request.body, (bytes, bytearray, str)):
        return request.body
    raw = as_bytes(request.body)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"JSON body is not valid UTF-8: {error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"malformed JSON: {error}") from None


def pick_device(gpu_id=None) -> torch.device:
    """GPU id assigned by the server (or None) → cuda:<id> when CUDA is present, else the CPU."""
    if gpu_id is not None and torch.cuda.is_available():
        return torch.device(f"cuda:{int(gpu_id)}")
    return torch.device("cpu")


def threads_per_worker(workers: int) -> int:
    """Worker count → intra-op threads, so that workers × threads never exceeds the usable cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // max(1, int(workers)))


class ModelHandler:
    """Shared batch pipeline: decode → preprocess per request, one batched inference, postprocess."""

    family: str = ""  # the checkpoint family this handler serves
    sample: tuple = ()  # (file under samples/, content type): the request make serve suggests

    def __init__(self, checkpoint: dict, device="cpu"):
        if checkpoint["family"] != self.family:
            raise ValueError(f"{type(self).__name__} serves {self.family!r}, "
                             f"not a {checkpoint['family']!r} checkpoint")
        self.checkpoint = checkpoint
        self.labels = list(checkpoint["labels"])
        self.device = torch.device(device)
        self.model = build_model(checkpoint, self.device)

    @classmethod
    def from_checkpoint_file(cls, path, device="cpu"):
        """Checkpoint path → handler with its model loaded (weights_only) on `device`."""
        return cls(load_checkpoint(path), device)

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
        return self.model(*batch) if isinstance(batch, tuple) else self.model(batch)

    def postprocess(self, payload, output: torch.Tensor):
        """One request's payload and its slice of the output (on the CPU) → JSON-serializable answer."""
        raise NotImplementedError

    # The shared pipeline.

    def handle(self, requests: list) -> list:
        """Requests → exactly one Answer each; a bad request never fails the others."""
        answers = [None] * len(requests)
        payloads, inputs = {}, {}
        for index, request in enumerate(requests):
            try:
                payloads[index] = self.decode(request)
                inputs[index] = self.preprocess(payloads[index])
            except InvalidInput as error:
                answers[index] = Answer(error.status, error.to_json())

        valid = sorted(inputs)
        if valid:
            batch = to_device(self.collate([inputs[i] for i in valid]), self.device)
            with torch.inference_mode():
                outputs = self.inference(batch).cpu()
            sizes = [rows(inputs[i]) for i in valid]
            for index, output in zip(valid, torch.split(outputs, sizes)):
                answers[index] = Answer(200, self.postprocess(payloads[index], output))
        return answers


def rows(model_input) -> int:
    """A request's model input (tensor or tuple of tensors) → how many examples it holds."""
    return len(model_input[0] if isinstance(model_input, tuple) else model_input)


def to_device(batch, device):
    """Tensor or tuple of tensors → the same on `device`."""
    if isinstance(batch, tuple):
        return tuple(part.to(device) for part in batch)
    return batch.to(device)
