"""sentiment_rnn serving: a review (text/plain body or JSON {"text": ...}) → its label and that label's probability."""

import torch
from captum.attr import LayerIntegratedGradients

from handlers.base import ModelHandler
from handlers.explanations import DECIMALS, completeness, integrate
from handlers.messages import InvalidInput, Request, json_object, json_type, json_value, media_type
from handlers.protocols import Tensor
from models.sentiment_rnn import MAX_TEXT_CHARS
from models.text import UNK_ID, normalize_text, pad_token_ids, tokenize

USAGE = 'send the review as a text/plain body, or JSON {"text": "..."}'
# Path points a GRU evaluates in one forward/backward pass over a review: past
# about 64 of 256-token texts the pass gets slower per point (cache), not faster.
REVIEW_POINTS_PER_PASS = 32


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


class SentimentRNNHandler(ModelHandler):
    family = "sentiment_rnn"
    sample = ("samples/review.txt", "text/plain")
    # KServe v2: one review per example as a UTF-8 string.
    v2_inputs = (Tensor("text", ("BYTES",)),)
    v2_outputs = (Tensor("label", ("BYTES",)), Tensor("probability", ("FP32",)))

    def decode(self, request: Request) -> str:
        """text/plain body, raw UTF-8 bytes, or JSON {"text": "..."} → the review as sent.

        The content type decides: JSON types (…/json, …+json) are parsed;
        any other text/* body is the review itself, even when it looks like
        JSON; a body with no (or another) content type is JSON only when it
        starts with "{".
        """
        body, kind = request.body, media_type(request)
        if request.parsed:
            return text_from_json(body)  # JSON TorchServe decoded: an object, null, a string...
        if not body:
            raise InvalidInput("empty request body; " + USAGE, reason="empty_body")
        if kind.endswith("json") or (not kind.startswith("text/") and starts_like_object(body)):
            return text_from_json(json_value(request))
        return body if isinstance(body, str) else text_from_bytes(body)

    def example_input(self) -> tuple:
        """→ one review's model input: ([1, 3, K] token ids, [1] length)."""
        return self.preprocess("a good film")

    def preprocess(self, text: str):
        """Review text → ([1, T, K] ids: K ids per token, [1] length), normalized and tokenized as in
        training."""
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInput(f"text is {len(text):,} characters long; the limit is "
                               f"{MAX_TEXT_CHARS:,}", reason="too_large")
        cleaned = normalize_text(text)
        if not cleaned:
            raise InvalidInput("text is empty or only white space; " + USAGE, reason="empty_body")
        return pad_token_ids([self.model.encode(cleaned)])

    def collate(self, inputs: list):
        """Per-request ([1, T_i, K_i] ids, [1] length) → ([N, longest T, longest K] ids padded with
        PAD_ID, [N] lengths)."""
        return pad_token_ids([ids[0] for ids, _ in inputs])

    def postprocess(self, text, logit: torch.Tensor) -> dict:
        """[1] logit of "positive" → {"label", "probability" of that label, 4 decimals}."""
        positive = float(torch.sigmoid(logit[0].float()))
        # A tie (exactly 0.5) reads as positive, as in training's evaluation.
        if positive >= 0.5:
            return {"label": self.labels[1], "probability": round(positive, 4)}
        return {"label": self.labels[0], "probability": round(1.0 - positive, 4)}

    def explain(self, text: str, model_input: tuple) -> dict:
        """Review text and its ([1, T] token ids, [1] length) model input (on the device) → the
        answer plus each token's attribution toward the answered label (Integrated Gradients,
        at the layer that turns each token's ids into one vector, from an all-<unk> text), and
        the completeness figures."""
        token_ids, lengths = model_input
        with torch.no_grad():
            logit = self.model(token_ids, lengths)
        answer = self.postprocess(text, logit.cpu())
        # The label's log-odds: the positive logit, or its negative for "negative".
        sign = 1.0 if answer["label"] == self.labels[1] else -1.0
        # Every token <unk>, same length: the text with no word in it. Training
        # turns some tokens into <unk> (word dropout), so the model knows it as "no
        # evidence"; baseline_logit says where that sits in every answer. All-<pad>
        # (zero embeddings, never seen in training) swings with length. Every real
        # token, known to the vocabulary or read through its n-grams alone, differs
        # from <unk>, so each gets its own share.
        baseline = torch.full_like(token_ids, UNK_ID)
        with torch.no_grad():
            baseline_logit = self.model(baseline, lengths)[0]
        explainer = LayerIntegratedGradients(lambda ids, n: sign * self.model(ids, n),
                                             self.model.embedding)
        # cuDNN runs a GRU backward only in training mode; the model stays in eval mode.
        with torch.backends.cudnn.flags(enabled=False):
            attributions, delta, steps = integrate(
                lambda n_steps, method: explainer.attribute(
                    token_ids, baseline, additional_forward_args=(lengths,), n_steps=n_steps,
                    method=method, internal_batch_size=REVIEW_POINTS_PER_PASS),
                sign * float(logit[0] - baseline_logit))
        per_token = attributions[0].sum(dim=1).cpu().double().tolist()
        tokens = tokenize(normalize_text(text))[:self.model.max_tokens]  # as the model read them
        return {**answer,
                "tokens": [{"token": token, "known": token in self.model.token_ids,
                            "attribution": round(value, DECIMALS)}
                           for token, value in zip(tokens, per_token)],
                **completeness(sign * logit[0], sign * baseline_logit, delta, steps)}


HANDLER = SentimentRNNHandler  # what the TorchServe adapter builds for a sentiment_rnn checkpoint
