"""sentiment_rnn serving: a review (text/plain body or JSON {"text": ...}) → its label and that label's probability."""

import torch
from captum.attr import LayerIntegratedGradients

from handlers.base import ModelHandler
from handlers.explanations import DECIMALS, completeness, integrate
from handlers.messages import InvalidInput, Request
from handlers.protocols import Tensor
from handlers.text import text_of
from models.sentiment_rnn import MAX_TEXT_CHARS
from models.text import UNK_ID, normalize_text, pad_token_ids, tokenize

USAGE = 'send the review as a text/plain body, or JSON {"text": "..."}'
# Path points a GRU evaluates in one forward/backward pass over a review: past
# about 64 of 256-token texts the pass gets slower per point (cache), not faster.
REVIEW_POINTS_PER_PASS = 32


class SentimentRNNHandler(ModelHandler):
    family = "sentiment_rnn"
    sample = ("samples/review.txt", "text/plain")
    # KServe v2: one review per example as a UTF-8 string.
    v2_inputs = (Tensor("text", ("BYTES",)),)
    v2_outputs = (Tensor("label", ("BYTES",)), Tensor("probability", ("FP32",)))

    def decode(self, request: Request) -> str:
        """text/plain body, raw UTF-8 bytes, or JSON {"text": "..."} → the review as sent."""
        return text_of(request, USAGE)

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
