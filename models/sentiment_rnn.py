"""sentiment_rnn: a bidirectional GRU that reads a short English review and scores it positive or negative.

The single source of truth for the family: its labels, limits and architecture live here, and
it reads text with models.text (normalization, tokens, hashed character n-grams), so
training, evaluation and the handler read a review exactly alike. The vocabulary and the
bucket count are constructor arguments, so they travel in the checkpoint's `model_args`; so
does the temperature that calibrates the logit, fitted on the validation split.
"""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from models.text import NGRAM_BUCKETS, PAD_ID, NgramEmbedding, TokenIds

LABELS = ("negative", "positive")  # the model's logit scores LABELS[1]
MAX_TEXT_CHARS = 1000  # longest text served, in characters as received; reviews are short
MAX_TOKENS = 256  # a text's tokens beyond this are dropped: bounds the RNN's sequential work
MIN_FREQUENCY = 2  # a word enters the vocabulary when the training split uses it this often


class SentimentRNN(nn.Module):
    """[N, T, K] id lists per token padded with PAD_ID (and [N] lengths) → [N] calibrated logits
    of the positive label."""

    def __init__(self, vocabulary, embedding_dim=64, hidden_size=64, dropout=0.3,
                 max_tokens=MAX_TOKENS, ngram_buckets=NGRAM_BUCKETS):
        super().__init__()
        self.tokens = TokenIds(vocabulary, ngram_buckets, int(max_tokens))
        self.vocabulary = self.tokens.vocabulary
        self.token_ids = self.tokens.token_ids  # token → vocabulary id
        self.max_tokens = int(max_tokens)
        self.ngram_buckets = self.tokens.ngram_buckets
        self.embedding = NgramEmbedding(self.tokens.rows, embedding_dim)
        self.rnn = nn.GRU(embedding_dim, hidden_size, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(2 * hidden_size, 1)
        # Divides the logit: fitted on the validation split after training
        # (temperature scaling), so served probabilities are calibrated ones.
        self.register_buffer("temperature", torch.ones(()))

    def token_id_list(self, token: str) -> list:
        """Token → [its vocabulary id if it has one, then the ids of its n-gram buckets]."""
        return self.tokens.token_id_list(token)

    def encode(self, text: str) -> list:
        """Normalized text → one id list per token (the first max_tokens); never PAD_ID or UNK_ID."""
        return self.tokens.encode(text)

    def encode_words(self, text: str) -> tuple:
        """Normalized text → what encode gives, word by word, for a batch to pad in one pass
        (models.text.pad_encoded_words)."""
        return self.tokens.encode_words(text)

    def forward(self, token_ids, lengths=None):
        # Lengths default to the tokens with any id: encode never emits an empty list.
        if lengths is None:
            lengths = (token_ids != PAD_ID).any(dim=2).sum(dim=1)
        # Packing makes the GRU stop at each text's last token, so padding
        # never changes a score: alone or in a batch, a text reads the same.
        packed = pack_padded_sequence(self.embedding(token_ids), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        # final is [2, N, H]: the forward state after the last token, the backward after the first.
        _, final = self.rnn(packed)
        features = torch.cat([final[0], final[1]], dim=1)
        return self.output(self.dropout(features)).squeeze(1) / self.temperature


ARCHITECTURE = SentimentRNN  # what models.checkpoint builds for a sentiment_rnn checkpoint


