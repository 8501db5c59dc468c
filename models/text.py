"""Reading text for models: normalization, tokens, character n-grams hashed into buckets, and the
embedding and padding they need; shared by every family that reads text, in training and serving.

Each token is read as the mean of its embeddings: its own (when the training split taught it:
the vocabulary) and those of its character 3-, 4- and 5-grams with word boundaries ("<go",
"goo", "ood", "od>", ...), hashed into a fixed number of buckets (fastText's subword scheme).
A word never seen in training still reads through the pieces it shares with words that were
("delicious" with "delightful"), so unknown words do not all collapse into one <unk>.
"""

import itertools
import operator
import re
import unicodedata
import zlib

import numpy as np
import torch
from torch import nn

PAD = "<pad>"  # vocabulary[0]: fills a batch's shorter texts, and a token's shorter id lists
UNK = "<unk>"  # vocabulary[1]: a token read as no word at all (the explanations' baseline)
PAD_ID, UNK_ID = 0, 1

NGRAM_SIZES = (3, 4, 5)  # character n-grams of "<word>", boundaries included
NGRAM_BUCKETS = 1 << 15  # hashed n-gram rows after the vocabulary's: collisions are rare and mild
MAX_WORD_CHARS = 20  # a longer word's n-grams come from its first 20 characters: bounds ids per token
WORD_CACHE_SIZE = 100_000  # words whose tokens' ids are kept (a few MB); later ones are read anew
TOKENS_OF_WORD = operator.itemgetter(2)  # a word's arrays → its number of tokens

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
# The same without the n't alternatives, for the many texts with no "n't" in them, where they
# never match: it finds the same tokens with no look-ahead at every letter.
_TOKEN_WITHOUT_NOT = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
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
    if text.isascii():  # most texts: NFKC leaves ASCII as it is
        return collapse_white_space(strip_illegal_characters(text))
    for _, step in NORMALIZATION_STEPS:
        text = step(text)
    return text


def tokenize(text: str) -> list:
    """Normalized text → lower-case tokens: words, "n't", and single symbols ("isn't!" → is, n't, !)."""
    text = text.casefold().translate(_APOSTROPHES)
    return (_TOKEN if "n't" in text else _TOKEN_WITHOUT_NOT).findall(text)


def ngrams(token: str) -> list:
    """Token → its character n-grams (NGRAM_SIZES) of "<token>", in order, repeats kept."""
    marked = f"<{token[:MAX_WORD_CHARS]}>"
    return [marked[i:i + n] for n in NGRAM_SIZES for i in range(len(marked) - n + 1)]


def ngram_bucket(ngram: str, buckets=NGRAM_BUCKETS) -> int:
    """Character n-gram → its bucket in [0, buckets): CRC-32 of its UTF-8, the same in every
    process (Python's hash() is salted per process)."""
    return zlib.crc32(ngram.encode("utf-8")) % buckets


class NgramEmbedding(nn.Module):
    """[N, T, K] id lists per token (PAD_ID-padded) → [N, T, D]: each token the mean of its ids'
    embeddings; a token of PAD_ID only (batch padding) reads as zeros."""

    def __init__(self, rows, dim):
        super().__init__()
        self.bag = nn.EmbeddingBag(rows, dim, mode="mean", padding_idx=PAD_ID)

    def forward(self, ids):
        n, t, k = ids.shape
        return self.bag(ids.reshape(n * t, k)).reshape(n, t, -1)


class TokenIds:
    """A vocabulary → each token's id list: its vocabulary id when it has one, then the ids of its
    n-grams' buckets, which come after the vocabulary's rows."""

    def __init__(self, vocabulary, ngram_buckets=NGRAM_BUCKETS, max_tokens=None):
        self.vocabulary = [str(token) for token in vocabulary]
        if self.vocabulary[:2] != [PAD, UNK]:
            raise ValueError(f"vocabulary must start with {PAD!r}, {UNK!r}")
        self.ngram_buckets = int(ngram_buckets)
        self.max_tokens = max_tokens
        self.token_ids = {token: index for index, token in enumerate(self.vocabulary)}
        self._cache = {}  # token → its id list: texts repeat words, hashing is the cost
        self._word_cache = {}  # a word between spaces ("camera,") → its tokens' id lists
        self._word_arrays = {}  # the same word → (its ids in one int64 array, ids per token)

    @property
    def rows(self) -> int:
        """Embedding rows the ids index: the vocabulary's, then the buckets'."""
        return len(self.vocabulary) + self.ngram_buckets

    def token_id_list(self, token: str) -> list:
        """Token → [its vocabulary id if it has one, then the ids of its n-gram buckets]."""
        ids = self._cache.get(token)
        if ids is None:
            first = len(self.vocabulary)
            buckets = [first + ngram_bucket(gram, self.ngram_buckets) for gram in ngrams(token)]
            known = self.token_ids.get(token)
            ids = self._cache[token] = ([known] if known is not None else []) + buckets
        return ids

    def word_id_lists(self, word: str) -> list:
        """A word (text between spaces) → the id list of each of its tokens, in order."""
        ids = self._word_cache.get(word)
        if ids is None:
            ids = [self.token_id_list(token) for token in tokenize(word)]
            if len(self._word_cache) < WORD_CACHE_SIZE:  # unseen words cannot grow it without bound
                self._word_cache[word] = ids
        return ids

    def encode(self, text: str) -> list:
        """Normalized text → one id list per token (the first max_tokens); never PAD_ID or UNK_ID."""
        # No token holds white space, so a text's tokens are its words' tokens in order; words
        # repeat from text to text, and a cached one is read without tokenizing it again.
        words = text.split(" ")
        ids = list(map(self._word_cache.get, words))
        if None in ids:
            ids = [self.word_id_lists(word) if known is None else known
                   for word, known in zip(words, ids)]
        return list(itertools.chain.from_iterable(ids))[:self.max_tokens]

    def word_arrays(self, word: str) -> tuple:
        """A word (text between spaces) → (the ids of all its tokens in one int64 array, the number
        of ids of each token, its number of tokens)."""
        arrays = self._word_arrays.get(word)
        if arrays is None:
            id_lists = self.word_id_lists(word)
            arrays = (np.fromiter(itertools.chain.from_iterable(id_lists), dtype=np.int64),
                      np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists)),
                      len(id_lists))
            if len(self._word_arrays) < WORD_CACHE_SIZE:
                self._word_arrays[word] = arrays
        return arrays

    def encode_words(self, text: str) -> tuple:
        """Normalized text → what encode gives, word by word, for a batch to pad in one pass:
        (each word's word_arrays, in order, to the max_tokens-th token; the number of tokens)."""
        words = text.split(" ")
        arrays = list(map(self._word_arrays.get, words))
        if None in arrays:
            arrays = [self.word_arrays(word) if known is None else known
                      for word, known in zip(words, arrays)]
        tokens = sum(map(TOKENS_OF_WORD, arrays))
        if self.max_tokens is None or tokens <= self.max_tokens:
            return arrays, tokens
        kept, room = [], self.max_tokens
        for ids, counts, _ in arrays:  # a text past max_tokens: cut within the word that reaches it
            kept.append((ids[:counts[:room].sum()], counts[:room], min(room, len(counts))))
            room -= kept[-1][2]
            if not room:
                return kept, self.max_tokens


def pad_token_ids(sequences) -> tuple:
    """Texts' id lists per token (nested lists, or [T, K] tensors), none empty → ([N, longest T,
    longest K] ids padded with PAD_ID, [N] lengths)."""
    if all(torch.is_tensor(text) for text in sequences):  # the handler's collate: already [T, K]
        lengths = [len(text) for text in sequences]
        padded = np.full((len(sequences), max(lengths), max(text.shape[1] for text in sequences)),
                         PAD_ID, dtype=np.int64)
        for row, text in enumerate(sequences):
            padded[row, :text.shape[0], :text.shape[1]] = text.numpy()
        return torch.from_numpy(padded), torch.tensor(lengths, dtype=torch.int64)
    return pad_encoded_words([([(np.fromiter(itertools.chain.from_iterable(text), dtype=np.int64),
                                 np.fromiter(map(len, text), dtype=np.int64, count=len(text)),
                                 len(text))], len(text)) for text in sequences])


def pad_encoded_words(texts) -> tuple:
    """Texts as TokenIds.encode_words gives them (their words' arrays, their number of tokens),
    none empty → ([N, longest T, longest K] ids padded with PAD_ID, [N] lengths)."""
    # One fill of every id, in order, not a write per token: training pads thousands of texts,
    # and the server a batch at a time. A text's tokens fill the first of its rows, a token's ids
    # the first of its places.
    lengths = np.array([tokens for _, tokens in texts], dtype=np.int64)
    id_counts = np.concatenate([counts for words, _ in texts for _, counts, _ in words])
    tokens = np.zeros((len(texts), lengths.max()), dtype=np.int64)
    tokens[np.arange(lengths.max()) < lengths[:, None]] = id_counts
    padded = np.full((len(texts), lengths.max(), id_counts.max()), PAD_ID, dtype=np.int64)
    padded[np.arange(id_counts.max()) < tokens[..., None]] = np.concatenate(
        [ids for words, _ in texts for ids, _, _ in words])
    return torch.from_numpy(padded), torch.from_numpy(lengths)
