"""Data preparation for sentiment_rnn: read a text,label CSV, clean it, split it, build the vocabulary."""

import csv
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sklearn.model_selection import train_test_split

from models.sentiment_rnn import LABELS, MIN_FREQUENCY
from models.text import NORMALIZATION_STEPS, PAD, UNK, tokenize

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "training" / "data" / "sentiment.csv"
# Reviews written by hand for training (sentiment_written_train.csv) and, apart,
# for choosing among training variants (sentiment_written_dev.csv).
WRITTEN_DATA = ROOT / "training" / "data" / "sentiment_written_train.csv"
WRITTEN_DEV = ROOT / "training" / "data" / "sentiment_written_dev.csv"
VALIDATION_SHARE = 0.15
TEST_SHARE = 0.15


@dataclass
class TextCleaningReport:
    """How many rows each cleaning step repaired or removed."""

    rows_in: int
    illegal_characters: int = 0  # rows repaired: control, zero-width or other illegal characters stripped
    unicode_normalized: int = 0  # rows repaired: changed by NFKC
    white_space: int = 0  # rows repaired: white space collapsed or trimmed
    missing: int = 0  # rows dropped: no text (after cleaning) or no label
    unknown_labels: int = 0  # rows dropped: a label other than positive/negative
    duplicates: int = 0  # rows dropped: the same tokens as an earlier row with the same label
    conflicting: int = 0  # rows dropped: the same tokens appear with both labels
    rows_out: int = 0
    unknown_label_values: dict = field(default_factory=dict)  # label → rows, to see what was rejected

    def __str__(self):
        return (f"cleaning: {self.rows_in} rows in, {self.illegal_characters} with illegal characters "
                f"stripped, {self.unicode_normalized} NFKC-normalized, {self.white_space} with white "
                f"space collapsed, {self.missing} with missing text or label dropped, "
                f"{self.unknown_labels} with unknown labels rejected, {self.duplicates} duplicates "
                f"dropped, {self.conflicting} with conflicting labels dropped, "
                f"{self.rows_out} rows kept")


def read_reviews_csv(path) -> list:
    """CSV with columns text,label (and any others; lines starting with "#" are notes) →
    [(text or None, label or None)] in file order."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(line for line in f if not line.startswith("#"))
            if not reader.fieldnames or not {"text", "label"} <= set(reader.fieldnames):
                raise SystemExit(f"{path}: the CSV needs a header with columns text,label; "
                                 f"found {reader.fieldnames}")
            return [(row["text"], row["label"]) for row in reader]
    except UnicodeDecodeError as error:
        raise SystemExit(f"{path}: not UTF-8 text: {error}") from None


def clean_reviews(rows):
    """[(text, label)] → (texts, label ids, TextCleaningReport), in file order.

    Texts go through the serving normalization (illegal characters stripped,
    NFKC, white space collapsed). Rows with no text left or no label are
    dropped, unknown labels rejected (labels are trimmed and lower-cased
    first), and rows whose tokens repeat an earlier row's are dropped: the
    model sees tokens, so a duplicate by any other measure could still sit in
    both the training and the test split. Texts seen with both labels are
    dropped entirely.
    """
    report = TextCleaningReport(rows_in=len(rows))
    kept = []  # (key, text, label id)
    for text, label in rows:
        if text is None or label is None or not label.strip():
            report.missing += 1
            continue
        for name, step in NORMALIZATION_STEPS:
            cleaned = step(text)
            if cleaned != text:  # each step's name is the report field counting its repairs
                setattr(report, name, getattr(report, name) + 1)
            text = cleaned
        if not text:
            report.missing += 1
            continue
        label = label.strip().lower()
        if label not in LABELS:
            report.unknown_labels += 1
            report.unknown_label_values[label] = report.unknown_label_values.get(label, 0) + 1
            continue
        kept.append((" ".join(tokenize(text)), text, LABELS.index(label)))

    labels_per_key = {}
    for key, _, label in kept:
        labels_per_key.setdefault(key, set()).add(label)
    texts, label_ids, seen = [], [], set()
    for key, text, label in kept:
        if len(labels_per_key[key]) > 1:
            report.conflicting += 1
        elif key in seen:
            report.duplicates += 1
        else:
            seen.add(key)
            texts.append(text)
            label_ids.append(label)
    report.rows_out = len(texts)
    return texts, label_ids, report


def split_stratified(labels, seed):
    """Label ids → (train, validation, test) index lists, each stratified by label, reproducible by seed."""
    index = list(range(len(labels)))
    rest, test = train_test_split(index, test_size=TEST_SHARE, stratify=labels, random_state=seed)
    train, val = train_test_split(rest, test_size=VALIDATION_SHARE / (1.0 - TEST_SHARE),
                                  stratify=[labels[i] for i in rest], random_state=seed)
    return train, val, test


def build_vocabulary(texts, min_frequency=MIN_FREQUENCY) -> list:
    """Training texts → [PAD, UNK, tokens used at least min_frequency times, most frequent first]."""
    counts = Counter(token for text in texts for token in tokenize(text))
    frequent = [token for token, count in counts.items() if count >= min_frequency]
    # Ties broken alphabetically, so the same texts always give the same ids.
    return [PAD, UNK] + sorted(frequent, key=lambda token: (-counts[token], token))


@dataclass
class SentimentSplits:
    """Cleaned texts and label ids (0 negative, 1 positive) of each split, and what the data was."""

    train_texts: list
    train_labels: list
    val_texts: list
    val_labels: list
    test_texts: list
    test_labels: list
    data_info: dict


def file_sha256(path) -> str:
    """File → hex SHA-256 of its bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def display_path(path) -> str:
    """Path → relative to the repository when inside it, so checkpoints name no home directories."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def load_sentiment_splits(path=DEFAULT_DATA, seed=0, limit=None, log=print) -> SentimentSplits:
    """CSV → cleaned, stratified train/validation/test splits; `limit` keeps a quick stratified subset."""
    texts, labels, report = clean_reviews(read_reviews_csv(path))
    log(str(report))
    if len(set(labels)) < 2 or min(labels.count(0), labels.count(1)) < 5:
        raise SystemExit(f"{path}: after cleaning, each label needs at least 5 rows "
                         f"(positive {labels.count(1)}, negative {labels.count(0)})")
    if limit is not None and limit < len(texts):
        keep, _ = train_test_split(list(range(len(texts))), train_size=limit, stratify=labels,
                                   random_state=seed)
        texts, labels = [texts[i] for i in sorted(keep)], [labels[i] for i in sorted(keep)]

    train, val, test = split_stratified(labels, seed)
    data_info = {
        "source": display_path(path),
        "sha256": file_sha256(path),
        "rows": len(texts),
        "positive": int(sum(labels)),
        "negative": len(labels) - int(sum(labels)),
        "cleaning": vars(report),
        "split": {"train": len(train), "validation": len(val), "test": len(test), "seed": seed},
    }
    log(f"split: {len(train)} train, {len(val)} validation, {len(test)} test (seed {seed})")

    def pick(index):
        return [texts[i] for i in index], [labels[i] for i in index]

    return SentimentSplits(*pick(train), *pick(val), *pick(test), data_info)


@dataclass
class RatedSplits:
    """Lexicon-composed texts with label ids and probabilities of "positive", per split."""

    train: list  # [(text, label id, probability of positive)]
    val: list
    test: list
    data_info: dict


def text_key(text) -> str:
    """Text → its tokens joined: two texts with one key read the same to the model."""
    return " ".join(tokenize(text))


def load_lexicon_splits(seed=0, limit=None, exclude=(), log=print) -> RatedSplits:
    """VADER-lexicon reviews (training.lexicon_reviews) → stratified train/validation/test splits,
    duplicates and rows that read as an `exclude`d text dropped, texts seen with both labels
    dropped; `limit` keeps a quick stratified subset."""
    from training.lexicon_reviews import DATA_SEED, lexicon_path, lexicon_reviews

    rows = lexicon_reviews()
    excluded = {text_key(text) for text in exclude}
    labels_per_key = {}
    for text, label, _ in rows:
        labels_per_key.setdefault(text_key(text), set()).add(label)
    kept, seen = [], set(excluded)
    for row in rows:
        key = text_key(row[0])
        if len(labels_per_key[key]) == 1 and key not in seen:
            seen.add(key)
            kept.append(row)
    labels = [label for _, label, _ in kept]
    if limit is not None and limit < len(kept):
        keep, _ = train_test_split(list(range(len(kept))), train_size=limit, stratify=labels,
                                   random_state=seed)
        kept = [kept[i] for i in sorted(keep)]
        labels = [label for _, label, _ in kept]
    train, val, test = split_stratified(labels, seed)
    path = lexicon_path()
    data_info = {"source": "vaderSentiment/vader_lexicon.txt (vaderSentiment 3.3.2, MIT licence)",
                 "sha256": file_sha256(path), "composer": "training.lexicon_reviews",
                 "data_seed": DATA_SEED, "rows_composed": len(rows), "rows": len(kept),
                 "dropped": len(rows) - len(kept), "positive": int(sum(labels)),
                 "split": {"train": len(train), "validation": len(val), "test": len(test),
                           "seed": seed}}
    log(f"lexicon reviews: {len(rows)} composed, {len(kept)} kept; split {len(train)} train, "
        f"{len(val)} validation, {len(test)} test (seed {seed})")
    return RatedSplits([kept[i] for i in train], [kept[i] for i in val], [kept[i] for i in test],
                       data_info)
