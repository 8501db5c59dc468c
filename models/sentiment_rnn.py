"""sentiment_rnn: a bidirectional GRU that reads a short English review and scores it positive or negative.

The single source of truth for the family: the text normalization, the
tokenizer and the architecture live here, and training, evaluation and the
handler all call them, so the served model reads text exactly as it was
trained to. The vocabulary is a constructor argument, so it travels in the
checkpoint's `model_args` and no caller can pair a model with another
vocabulary.
"""

import re
import unicodedata

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

LABELS = ("negative", "positive")  # the model's logit scores LABELS[1]
PAD = "<pad>"  # vocabulary[0]: fills a batch's shorter texts up to its longest
UNK = "<unk>"  # vocabulary[1]: every word the training split did not teach
PAD_ID, UNK_ID = 0, 1

MAX_TEXT_CHARS = 1000  # longest text served, in characters as received; reviews are short
MAX_TOKENS = 256  # a text's tokens beyond this are dropped: bounds the RNN's sequential work
MIN_FREQUENCY = 2  # a word enters the vocabulary when the training split uses it this often

# The only controls kept: they separate words, and collapse to one space later.
_WHITESPACE_CONTROLS = frozenset("\t\n\v\f\r")
# Dropped: controls, format characters (zero-width space/joiner, BOM, bidi
# overrides), lone surrogates, private use and unassigned code points. None
# carries a word, and some hide text from the tokenizer or break encoding.
_ILLEGAL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
# "n't" is a token of its own, so "isn't", "wasn't" and "didn't" share one
# negation the model learns once; otherwise a word with inner apostrophes
# ("rock'n'roll", "it's") or one other symbol.
_TOKEN = re.compile(r"\w+(?=n't\b)|n't\b|\w+(?:'\w+)*|[^\w\s]")
# Phones and word processors type curly apostrophes; "didn’t" must read as "didn't".
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\uff07": "'"})


# In ASCII the only illegal characters are the controls (Cc): this table drops
# them in one C pass, where the per-character check below runs in Python.
_ASCII_CONTROLS = {code: None for code in (*range(0x20), 0x7F)
                   if chr(code) not in _WHITESPACE_CONTROLS}


def strip_illegal_characters(text: str) -> str:
    """Text → the same text without control, format, surrogate, private-use or unassigned characters."""
    if text.isascii():
        return text.translate(_ASCII_CONTROLS)
    return "".join(ch for ch in text if ch in _WHITESPACE_CONTROLS
                   or unicodedata.category(ch) not in _ILLEGAL_CATEGORIES)


def normalize_unicode(text: str) -> str:
    """Text → its NFKC form: fullwidth letters, ligatures and non-breaking spaces become plain ones."""
    return unicodedata.normalize("NFKC", text)


def collapse_white_space(text: str) -> str:
    """Text → runs of white space (tabs, newlines, Unicode spaces) as one space, ends trimmed."""
    return " ".join(text.split())


# The order training counts them in and serving applies them in.
NORMALIZATION_STEPS = (
    ("illegal_characters", strip_illegal_characters),
    ("unicode_normalized", normalize_unicode),
    ("white_space", collapse_white_space),
)


def normalize_text(text: str) -> str:
    """Raw text → illegal characters dropped, NFKC, white space collapsed; "" when nothing is left."""
    for _, step in NORMALIZATION_STEPS:
        text = step(text)
    return text


def tokenize(text: str) -> list:
    """Normalized text → lower-case tokens: words, "n't", and single symbols ("isn't!" → is, n't, !)."""
    return _TOKEN.findall(text.casefold().translate(_APOSTROPHES))


class SentimentRNN(nn.Module):
    """[N, T] token ids padded with PAD_ID (and [N] lengths) → [N] logits of the positive label."""

    def __init__(self, vocabulary, embedding_dim=64, hidden_size=64, dropout=0.3,
                 max_tokens=MAX_TOKENS):
        super().__init__()
        vocabulary = [str(token) for token in vocabulary]
        if vocabulary[:2] != [PAD, UNK]:
            raise ValueError(f"vocabulary must start with {PAD!r}, {UNK!r}")
        self.vocabulary = vocabulary
        self.max_tokens = int(max_tokens)
        self.token_ids = {token: index for index, token in enumerate(vocabulary)}
        self.embedding = nn.Embedding(len(vocabulary), embedding_dim, padding_idx=PAD_ID)
        self.rnn = nn.GRU(embedding_dim, hidden_size, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(2 * hidden_size, 1)

    def encode(self, text: str) -> list:
        """Normalized text → token ids (the first max_tokens, unknown words as UNK_ID)."""
        return [self.token_ids.get(token, UNK_ID) for token in tokenize(text)[:self.max_tokens]]

    def forward(self, token_ids, lengths=None):
        # Lengths default to the non-padding ids: encode never emits PAD_ID.
        if lengths is None:
            lengths = (token_ids != PAD_ID).sum(dim=1)
        # Packing makes the GRU stop at each text's last token, so padding
        # never changes a score: alone or in a batch, a text reads the same.
        packed = pack_padded_sequence(self.embedding(token_ids), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        # final is [2, N, H]: the forward state after the last token, the backward after the first.
        _, final = self.rnn(packed)
        features = torch.cat([final[0], final[1]], dim=1)
        return self.output(self.dropout(features)).squeeze(1)


ARCHITECTURE = SentimentRNN  # what models.checkpoint builds for a sentiment_rnn checkpoint


def pad_token_ids(sequences) -> tuple:
    """Token id lists (or 1-D tensors), none empty → ([N, longest] ids padded with PAD_ID, [N] lengths)."""
    lengths = torch.tensor([len(ids) for ids in sequences], dtype=torch.int64)
    padded = torch.full((len(sequences), int(lengths.max())), PAD_ID, dtype=torch.int64)
    for row, ids in enumerate(sequences):
        padded[row, :len(ids)] = torch.as_tensor(ids, dtype=torch.int64)
    return padded, lengths
