"""What the shared pipeline reports about its work, with no server import: a recorder interface.

`ModelHandler.answer` calls a recorder for each batch; the server adapter
supplies one that forwards to its metrics system (handlers/torchserve_handler.py
for TorchServe), and without one nothing is recorded. The names below are the
metric names in TorchServe's Prometheus text; metrics.yaml declares them.
"""

# Seconds per batch in each step of the pipeline (Prometheus histograms, by ModelName).
STEP_METRICS = {
    "preprocess": "handler_preprocess_seconds",  # decode + preprocess of every request in the batch
    "inference": "handler_inference_seconds",  # collate, the one forward pass, back to the CPU
    "postprocess": "handler_postprocess_seconds",  # every valid request's answer from its rows
}
# Examples (rows) in each forward pass (a histogram: its _sum is every row computed).
BATCH_SIZE_METRIC = "handler_batch_size"
# Requests refused with 400, by model and reason (a counter).
INVALID_METRIC = "handler_invalid_inputs_total"

# Why a request was refused: a short, fixed vocabulary, because each reason
# becomes a Prometheus label value and labels must stay few.
REASONS = {
    "empty_body": "nothing to read: no body, or an empty field, list, image or text",
    "malformed_json": "a body sent as JSON that does not parse",
    "wrong_type": "a JSON value of the wrong type (an array for an object, a number for text)",
    "missing_field": "a required JSON field is absent",
    "unknown_field": "a JSON field (or form field, or input) the model does not read",
    "out_of_range": "a number outside its allowed range, NaN or infinite",
    "too_large": "over a limit: characters, pixels, records or examples",
    "unsupported_format": "bytes that are no supported image",
    "undecodable": "bytes that do not decode: bad base64 or UTF-8, a truncated or corrupt image",
    "blank_image": "an image with no visible digit",
    "not_offered": "something this model does not do, such as explaining its answer",
    "other": "any other refusal (the default)",
}
DEFAULT_REASON = "other"


class MetricsRecorder:
    """Records nothing: the default when no server collects metrics (tests, tools, other servers)."""

    def record_time(self, step: str, seconds: float):
        """A pipeline step ("preprocess", "inference", "postprocess") and its seconds for one batch → recorded."""

    def record_batch(self, rows: int):
        """Examples in one forward pass → recorded."""

    def count_invalid(self, reason: str):
        """One refused request's reason (a key of REASONS) → counted."""


NO_METRICS = MetricsRecorder()
