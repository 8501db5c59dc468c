"""Data preparation for sentiment_rnn: read a text,label CSV, clean it, split it, build the vocabulary."""

import csv
from dataclasses import dataclass
from pathlib import Path

from sklearn.model_selection import train_test_split

from models.sentiment_rnn import LABELS
from training.tables import file_sha256
from training.text_data import clean_texts, text_key

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "training" / "data" / "sentiment.csv"
# Reviews written by hand for training (sentiment_written_train.csv) and, apart,
# for choosing among training variants (sentiment_written_dev.csv).
WRITTEN_DATA = ROOT / "training" / "data" / "sentiment_written_train.csv"
WRITTEN_DEV = ROOT / "training" / "data" / "sentiment_written_dev.csv"
VALIDATION_SHARE = 0.15
TEST_SHARE = 0.15


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
    """[(text, label)] → (texts, label ids, TextCleaningReport), in file order: clean_texts with
    labels trimmed, lower-cased and refused unless negative or positive."""
    texts, labels, report = clean_texts(rows, LABELS, lambda label: label.strip().lower())
    return texts, [LABELS.index(label) for label in labels], report


def split_stratified(labels, seed):
    """Label ids → (train, validation, test) index lists, each stratified by label, reproducible by seed."""
    index = list(range(len(labels)))
    rest, test = train_test_split(index, test_size=TEST_SHARE, stratify=labels, random_state=seed)
    train, val = train_test_split(rest, test_size=VALIDATION_SHARE / (1.0 - TEST_SHARE),
                                  stratify=[labels[i] for i in rest], random_state=seed)
    return train, val, test


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
