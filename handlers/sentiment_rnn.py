"""sentiment_rnn serving: a review (text/plain body or JSON {"text": ...}) → its label and that label's probability."""

import torch

from handlers.base import ModelHandler, each_or_refusal
from handlers.explanations import explain_review
from handlers.messages import InvalidInput, Request, json_object, json_type, json_value, media_type
from handlers.protocols import Tensor
from models.sentiment_rnn import (MAX_TEXT_CHARS, PAD_ID, normalize_text, pad_encoded_words,
                                  pad_token_ids)

USAGE = 'send the review as a text/plain body, or JSON {"text": "..."}'


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
        """Review text and its ([1, T] token ids, [1] length) → the answer plus each token's
        attribution toward the answered label (Integrated Gradients from an all-<unk> text)."""
        ids, length = model_input
        return explain_review(self, text, (own_ids(ids, length)[None], length))


HANDLER = SentimentRNNHandler  # what the TorchServe adapter builds for a sentiment_rnn checkpoint
