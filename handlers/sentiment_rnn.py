"""sentiment_rnn serving: a review (text/plain body or JSON {"text": ...}) → its label and that label's probability."""

import torch
from captum.attr import LayerIntegratedGradients

from handlers.base import ModelHandler, each_or_refusal
from handlers.explanations import DECIMALS, completeness, integrate
from handlers.messages import InvalidInput, Request
from handlers.protocols import Tensor
from handlers.text import text_of
from models.sentiment_rnn import MAX_TEXT_CHARS
from models.text import PAD_ID, UNK_ID, normalize_text, pad_encoded_words, pad_token_ids, tokenize

USAGE = 'send the review as a text/plain body, or JSON {"text": "..."}'
# Path points a GRU evaluates in one forward/backward pass over a review: past
# about 64 of 256-token texts the pass gets slower per point (cache), not faster.
REVIEW_POINTS_PER_PASS = 32


def own_ids(ids: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
    """One text's ([1, T, K] ids padded with PAD_ID, [1] length) → its own [length, K'] ids, K'
    its longest id list: the padding another text of its batch needed cut off."""
    own = ids[0, :int(length[0])]
    return own[:, :int((own != PAD_ID).sum(dim=1).max())].contiguous()


def sigmoid_one_by_one(logits: torch.Tensor) -> list:
    """[N] logits → their sigmoids as floats, each the float32 value torch gives that logit alone.

    torch computes the sigmoid of a contiguous run of logits with a vectorized
    exp that rounds some of them otherwise than its scalar exp does (about 1 in
    25 on AVX2); a strided view goes through the scalar loop, logit by logit.
    """
    spaced = torch.zeros(len(logits), 2)
    spaced[:, 0] = logits
    return torch.sigmoid(spaced[:, 0]).tolist()


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

    def warm_up_request(self) -> Request:
        """→ a text/plain body of a three-word review."""
        return Request(b"a good film", "text/plain")

    def preprocess(self, text: str):
        """Review text → ([1, T, K] ids: K ids per token, [1] length), normalized and tokenized as in
        training."""
        [model_input] = self.preprocess_batch([text])
        if isinstance(model_input, InvalidInput):
            raise model_input
        return model_input

    def encoded(self, text: str) -> list:
        """Review text → its words' (ids, ids per token) arrays (the model's encode_words),
        normalized and tokenized as in training; raises InvalidInput when it is too long or holds
        no word."""
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInput(f"text is {len(text):,} characters long; the limit is "
                               f"{MAX_TEXT_CHARS:,}", reason="too_large")
        cleaned = normalize_text(text)
        if not cleaned:
            raise InvalidInput("text is empty or only white space; " + USAGE, reason="empty_body")
        return self.model.encode_words(cleaned)

    def preprocess_batch(self, texts: list) -> list:
        """Review texts → for each, its ([1, T, K] ids, [1] length) or the InvalidInput refusing it:
        the texts padded together in one fill, T and K the batch's longest (past a text's own
        tokens and ids, PAD_ID)."""
        encoded = each_or_refusal(self.encoded, texts)
        valid = [ids for ids in encoded if not isinstance(ids, InvalidInput)]
        if valid:
            padded, lengths = pad_encoded_words(valid)
            inputs = zip(padded.split(1), lengths.split(1))
        return [ids if isinstance(ids, InvalidInput) else next(inputs) for ids in encoded]

    def collate(self, inputs: list):
        """Per-request ([1, T_i, K_i] ids, [1] length) → ([N, longest T, longest K] ids padded with
        PAD_ID, [N] lengths)."""
        if len({ids.shape for ids, _ in inputs}) == 1:  # padded together already: trim to fit
            ids, lengths = torch.cat([ids for ids, _ in inputs]), torch.cat([n for _, n in inputs])
            longest = int(lengths.max())
            # Nothing to trim when the text and the token that set the shape are among these.
            if longest < ids.shape[1] or not bool((ids[:, :, -1] != PAD_ID).any()):
                width = int((ids[:, :longest] != PAD_ID).sum(dim=2).max())
                ids = ids[:, :longest, :width].contiguous()
            return ids, lengths
        return pad_token_ids([own_ids(ids, length) for ids, length in inputs])

    def postprocess(self, text, logit: torch.Tensor) -> dict:
        """[1] logit of "positive" → {"label", "probability" of that label, 4 decimals}."""
        return self.postprocess_batch([text], logit, [1])[0]

    def postprocess_batch(self, texts: list, logits: torch.Tensor, sizes: list) -> list:
        """[N] logits, one per text → each one's {"label", "probability" of that label,
        4 decimals}."""
        answers = []
        for positive in sigmoid_one_by_one(logits):
            # A tie (exactly 0.5) reads as positive, as in training's evaluation.
            if positive >= 0.5:
                answers.append({"label": self.labels[1], "probability": round(positive, 4)})
            else:
                answers.append({"label": self.labels[0], "probability": round(1.0 - positive, 4)})
        return answers

    def explain(self, text: str, model_input: tuple) -> dict:
        """Review text and its ([1, T] token ids, [1] length) model input (on the device) → the
        answer plus each token's attribution toward the answered label (Integrated Gradients,
        at the layer that turns each token's ids into one vector, from an all-<unk> text), and
        the completeness figures."""
        ids, lengths = model_input
        token_ids = own_ids(ids, lengths)[None]  # a batch's padding cut off
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
