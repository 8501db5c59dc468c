"""Serving for models that read text: a text/plain body, or JSON {"text": "..."} → the text as
sent, then the likeliest class and its probability for a text classifier.

A family of tools.new_family's text kind subclasses TextClassifierHandler and names its
`max_text_chars`; its model's encode(text) gives each token's id list (models.text).
"""

import torch

from handlers.base import ModelHandler
from handlers.classification import likeliest_class
from handlers.messages import InvalidInput, Request, json_object, json_type, json_value, media_type
from handlers.protocols import Tensor
from models.text import normalize_text, pad_token_ids

USAGE = 'send the text as a text/plain body, or JSON {"text": "..."}'


def text_from_json(value) -> str:
    """Decoded JSON → the string in its "text" field; raises InvalidInput for any other shape."""
    text = json_object(value, ("text",), required=("text",), example='{"text": "..."}')["text"]
    if not isinstance(text, str):
        raise InvalidInput(f'"text" must be a string, not {json_type(text)}', reason="wrong_type")
    return text


def starts_like_object(body) -> bool:
    """Raw body (str or bytes) → whether its first visible character is "{"."""
    start = body.lstrip()[:1]
    return start in ("{", b"{")


def text_from_bytes(body: bytes) -> str:
    """Raw body bytes → text; raises InvalidInput when they are not UTF-8."""
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"body is not valid UTF-8 text: byte 0x{error.object[error.start]:02x} "
                           f"at position {error.start}", reason="undecodable") from None


def text_of(request: Request, usage: str) -> str:
    """text/plain body, raw UTF-8 bytes, or JSON {"text": "..."} → the text as sent.

    The content type decides: JSON types (…/json, …+json) are parsed; any other text/* body is
    the text itself, even when it looks like JSON; a body with no (or another) content type is
    JSON only when it starts with "{".
    """
    body, kind = request.body, media_type(request)
    if request.parsed:
        return text_from_json(body)  # JSON TorchServe decoded: an object, null, a string...
    if not body:
        raise InvalidInput("empty request body; " + usage, reason="empty_body")
    if kind.endswith("json") or (not kind.startswith("text/") and starts_like_object(body)):
        return text_from_json(json_value(request))
    return body if isinstance(body, str) else text_from_bytes(body)


class TextClassifierHandler(ModelHandler):
    """A text → [1, T, K] id lists per token, one forward pass per batch → {"label", "probability"}."""

    max_text_chars = 2000  # the longest text served, in characters as received
    # KServe v2: one text per example as a UTF-8 string.
    v2_inputs = (Tensor("text", ("BYTES",)),)
    v2_outputs = (Tensor("label", ("BYTES",)), Tensor("probability", ("FP32",)))

    def decode(self, request: Request) -> str:
        """text/plain body, raw UTF-8 bytes, or JSON {"text": "..."} → the text as sent."""
        return text_of(request, USAGE)

    def warm_up_request(self) -> Request:
        """→ a text/plain body of three words."""
        return Request(b"a short text", "text/plain")

    def example_input(self) -> torch.Tensor:
        """→ one short text's model input."""
        return self.preprocess("a short text")

    def preprocess(self, text: str) -> torch.Tensor:
        """A text → [1, T, K] id lists per token, normalized and tokenized as in training."""
        if len(text) > self.max_text_chars:
            raise InvalidInput(f"text is {len(text):,} characters long; the limit is "
                               f"{self.max_text_chars:,}", reason="too_large")
        cleaned = normalize_text(text)
        if not cleaned:
            raise InvalidInput("text is empty or only white space; " + USAGE, reason="empty_body")
        return pad_token_ids([self.model.encode(cleaned)])[0]

    def collate(self, inputs: list) -> torch.Tensor:
        """Per-request [1, T_i, K_i] ids → [N, longest T, longest K], padded with PAD_ID."""
        return pad_token_ids([ids[0] for ids in inputs])[0]

    def postprocess(self, text, logits: torch.Tensor) -> dict:
        """One text's logits → {"label", "probability"}."""
        return likeliest_class(logits[0], self.labels)
