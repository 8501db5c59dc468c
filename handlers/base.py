"""The serving steps every model family shares, with no TorchServe import.

A family handler subclasses `ModelHandler` and says only what is specific:
how to `decode` one request, `preprocess` it into model input and
`postprocess` the model's output into an answer (and, where work can be
shared across a batch, `preprocess_batch` and `postprocess_batch`, which do
the same for all requests of a batch at once). The base owns the rest:
rebuilding the model from its checkpoint, device placement, validating each
request on its own, one batched forward pass under `torch.inference_mode()`
over the valid requests only, and exactly one answer per request.
"""

import time

import torch

from handlers.formats import served_model
from handlers.hardware import to_device
from handlers.messages import Answer, InvalidInput, Request, json_value
from handlers.metrics import NO_METRICS
from handlers.protocols import PLAIN, close_envelope, open_envelope
from models.checkpoint import build_model, load_checkpoint

# Seconds a batch may spend on explanations before refusing the rest (503):
# with one worst-case explanation (5-12 s, by CPU load) on top it stays inside
# the 30 s responseTimeout, past which TorchServe would kill the worker and fail
# the whole batch.
EXPLAIN_BUDGET_S = 5


class ModelHandler:
    """Shared batch pipeline: decode per request, preprocess, one batched inference, postprocess."""

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

    def warm_up_request(self) -> Request:
        """→ a valid request of the family, made here: the archive ships no sample files."""
        raise NotImplementedError

    def warm_up(self) -> float:
        """Answer the family's warm-up request through the whole pipeline (decode → preprocess →
        inference → postprocess), so that a worker's first client pays for none of the lazy
        set-up on the way → the seconds it took. Raises RuntimeError when it is not answered 200."""
        started = time.perf_counter()
        [answer] = self.handle([self.warm_up_request()])
        if answer.status != 200:
            raise RuntimeError(f"{self.family}'s warm-up request was answered {answer.status}: "
                               f"{answer.body}")
        return time.perf_counter() - started

    # The steps a family overrides.

    def decode(self, request: Request):
        """Request → decoded payload (default: its JSON value); raises InvalidInput."""
        return json_value(request)

    def preprocess(self, payload):
        """Decoded payload → model input (a tensor, or a tuple of tensors) with a leading
        dimension of one row per example; raises InvalidInput."""
        raise NotImplementedError

    def preprocess_batch(self, payloads: list) -> list:
        """Decoded payloads of one batch → for each, its model input (as `preprocess` gives it) or
        the InvalidInput refusing it (default: `preprocess` one at a time); a family overrides it
        to share the work across the batch."""
        return each_or_refusal(self.preprocess, payloads)

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

    def postprocess_batch(self, payloads: list, outputs: torch.Tensor, sizes: list) -> list:
        """The valid requests' payloads, the batch's output (on the CPU) and each one's rows → one
        JSON-serializable answer each (default: `postprocess` one at a time); a family overrides
        it to share the work across the batch."""
        return [self.postprocess(payload, output)
                for payload, output in zip(payloads, torch.split(outputs, sizes))]

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
        envelopes = [open_envelope(request, self) for request in requests]
        examples = [example for envelope in envelopes for example in envelope.examples]
        answers = self.answer(examples) if examples else []
        if all(envelope.protocol == PLAIN for envelope in envelopes):
            return answers  # one example each, answered as it is
        answers = iter(answers)
        return [close_envelope(envelope, [next(answers) for _ in envelope.examples], self)
                for envelope in envelopes]

    def answer(self, requests: list) -> list:
        """Requests, one example each → exactly one Answer each, from one batched forward pass;
        each step's time, the batch size and every refusal's reason go to `self.metrics`."""
        answers = [None] * len(requests)
        payloads, inputs = {}, {}
        started = time.perf_counter()
        decode = self.decode
        for index, request in enumerate(requests):
            try:
                payloads[index] = decode(request)
            except InvalidInput as error:
                answers[index] = self.refuse(error)
        decoded = list(payloads)
        prepared = self.preprocess_batch([payloads[i] for i in decoded]) if decoded else []
        for index, model_input in zip(decoded, prepared):
            if isinstance(model_input, InvalidInput):
                answers[index] = self.refuse(model_input)
            else:
                inputs[index] = model_input
        self.metrics.record_time("preprocess", time.perf_counter() - started)

        # Explanations are computed one request at a time: each runs the model
        # many times with gradients, and shares nothing with the batch.
        started = time.monotonic()
        explained = [i for i in inputs if requests[i].explain]
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

        valid = list(inputs)  # in request order, as they were added
        if valid:
            started = time.perf_counter()
            batch = to_device(self.collate([inputs[i] for i in valid]), self.device)
            with torch.inference_mode():
                outputs = self.inference(batch).cpu()
            self.metrics.record_time("inference", time.perf_counter() - started)
            sizes = [rows(inputs[i]) for i in valid]
            self.metrics.record_batch(sum(sizes))
            started = time.perf_counter()
            bodies = self.postprocess_batch([payloads[i] for i in valid], outputs, sizes)
            for index, body in zip(valid, bodies):
                answers[index] = Answer(200, body)
            self.metrics.record_time("postprocess", time.perf_counter() - started)
        return answers

    def refuse(self, error: InvalidInput) -> Answer:
        """A refusal → its 400 Answer, counted under its reason."""
        self.metrics.count_invalid(error.reason)
        return Answer(error.status, error.to_json())


def each_or_refusal(step, items: list) -> list:
    """A step and its inputs → for each input, what the step gives or the InvalidInput it raised."""
    results = []
    for item in items:
        try:
            results.append(step(item))
        except InvalidInput as error:
            results.append(error)
    return results


def rows(model_input) -> int:
    """A request's model input (tensor or tuple of tensors) → how many examples it holds."""
    return (model_input[0] if isinstance(model_input, tuple) else model_input).shape[0]
