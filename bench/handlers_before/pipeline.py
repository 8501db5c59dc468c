"""The shared serving pipeline as it was before issue 15, frozen: what every family's "before"
handler (bench/handlers_before/<family>.py) answers through. Verbatim copies of the old
ModelHandler.handle and answer (decode and preprocess one request at a time, postprocess one at
a time), of the envelope reading they used, and of json_value, which the old family steps call.
"""

import json
import time
from dataclasses import replace

import torch

from handlers.base import EXPLAIN_BUDGET_S
from handlers.hardware import to_device
from handlers.messages import Answer, InvalidInput, Request, as_bytes, media_type
from handlers.protocols import (ENVELOPE_KEYS, PLAIN, V1, V2, Envelope, close_envelope, protocol_of,
                                refuse, requested_outputs, v1_examples, v2_examples, v2_id)


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
                                      and bytes(raw).lstrip()[:1] == b"{")):
        return None
    if not any(key in raw for key in ENVELOPE_KEYS):
        return None
    try:
        return json_value(request)
    except InvalidInput:  # the family names the parse error
        return None


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


def rows(model_input) -> int:
    """A request's model input (tensor or tuple of tensors) → how many examples it holds."""
    return len(model_input[0] if isinstance(model_input, tuple) else model_input)


class PipelineBefore:
    """ModelHandler's handle and answer as they were; put first among a "before" handler's bases."""

    def handle(self, requests: list) -> list:
        """Requests, each plain, KServe v1 or v2 → exactly one Answer each, in its own protocol;
        the examples of all requests share one `answer` call (one batch), and a bad request
        never fails the others."""
        envelopes = [open_envelope(request, self) for request in requests]
        examples = [example for envelope in envelopes for example in envelope.examples]
        answers = iter(self.answer(examples) if examples else [])
        return [close_envelope(envelope, [next(answers) for _ in envelope.examples], self)
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
