"""sentiment_rnn's preprocessing, batching and postprocessing as they were before issue 15,
frozen: the "before" side of bench.handler_speed, and the reference that
tests/test_sentiment_rnn_reference.py holds the handler's answers and refusals to.

The functions below are verbatim copies of the old code, kept on purpose.
"""

import torch

from bench.handlers_before.pipeline import PipelineBefore
from handlers.messages import InvalidInput
from handlers.sentiment_rnn import USAGE, SentimentRNNHandler
from models.sentiment_rnn import MAX_TEXT_CHARS
from models.text import PAD_ID, normalize_text


def pad_token_ids(sequences) -> tuple:
    """Texts' id lists per token (nested lists, or [T, K] tensors), none empty → ([N, longest T,
    longest K] ids padded with PAD_ID, [N] lengths)."""
    if all(torch.is_tensor(text) for text in sequences):  # the handler's collate: already [T, K]
        lengths = torch.tensor([len(text) for text in sequences], dtype=torch.int64)
        padded = torch.full((len(sequences), int(lengths.max()), max(text.shape[1] for text in sequences)),
                            PAD_ID, dtype=torch.int64)
        for row, text in enumerate(sequences):
            padded[row, :text.shape[0], :text.shape[1]] = text
        return padded, lengths
    lengths = torch.tensor([len(text) for text in sequences], dtype=torch.int64)
    width = max(len(ids) for text in sequences for ids in text)
    # One flat fill, not a tensor write per token: training pads thousands of texts.
    rows, columns, positions, values = [], [], [], []
    for row, text in enumerate(sequences):
        for column, ids in enumerate(text):
            count = len(ids)
            rows += [row] * count
            columns += [column] * count
            positions += range(count)
            values += ids
    padded = torch.full((len(sequences), int(lengths.max()), width), PAD_ID, dtype=torch.int64)
    padded[rows, columns, positions] = torch.tensor(values, dtype=torch.int64)
    return padded, lengths


class SentimentRNNHandlerBefore(PipelineBefore, SentimentRNNHandler):
    """The sentiment_rnn handler with its preprocess, collate and postprocess steps as they were:
    one request at a time, through the shared pipeline as it was."""

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


HANDLER = SentimentRNNHandlerBefore  # what bench.handler_speed times as sentiment_rnn's "before"
