"""Text data for the families that read text: a CSV of text and label read, cleaned like
serving reads a request, split, and the vocabulary and id lists training feeds the model."""

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from models.text import NORMALIZATION_STEPS, PAD, UNK, pad_token_ids, tokenize
from training.tables import class_names, file_sha256, labels_of, read_csv, split_rows

# A word enters the vocabulary when the training split uses it this often: a word seen once
# teaches its own row nothing it does not also teach its n-grams.
MIN_FREQUENCY = 2


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


def clean_texts(rows, known_labels=None, read_label=str.strip):
    """[(text, label)] → (texts, labels, TextCleaningReport), in file order.

    Texts go through the serving normalization (illegal characters stripped,
    NFKC, white space collapsed). Rows with no text left or no label are
    dropped; labels are read by `read_label`, and with `known_labels` any other
    is rejected. Rows whose tokens repeat an earlier row's are dropped: the
    model sees tokens, so a duplicate by any other measure could still sit in
    both the training and the test split. Texts seen with two labels are
    dropped entirely.
    """
    report = TextCleaningReport(rows_in=len(rows))
    kept = []  # (key, text, label)
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
        label = read_label(label)
        if known_labels is not None and label not in known_labels:
            report.unknown_labels += 1
            report.unknown_label_values[label] = report.unknown_label_values.get(label, 0) + 1
            continue
        kept.append((text_key(text), text, label))

    labels_per_key = {}
    for key, _, label in kept:
        labels_per_key.setdefault(key, set()).add(label)
    texts, labels, seen = [], [], set()
    for key, text, label in kept:
        if len(labels_per_key[key]) > 1:
            report.conflicting += 1
        elif key in seen:
            report.duplicates += 1
        else:
            seen.add(key)
            texts.append(text)
            labels.append(label)
    report.rows_out = len(texts)
    return texts, labels, report


def text_key(text) -> str:
    """Text → its tokens joined: two texts with one key read the same to the model."""
    return " ".join(tokenize(text))


def build_vocabulary(texts, min_frequency=MIN_FREQUENCY) -> list:
    """Training texts → [PAD, UNK, tokens used at least min_frequency times, most frequent first]."""
    counts = Counter(token for text in texts for token in tokenize(text))
    frequent = [token for token, count in counts.items() if count >= min_frequency]
    # Ties broken alphabetically, so the same texts always give the same ids.
    return [PAD, UNK] + sorted(frequent, key=lambda token: (-counts[token], token))


class EncodedTexts:
    """Cleaned texts, encoded once by the serving tokenizer; indexing pads just those rows, so a
    batch is as wide as its own longest text and word."""

    def __init__(self, encode, texts):
        self.encoded = [encode(text) for text in texts]

    def __len__(self):
        return len(self.encoded)

    def __getitem__(self, index):
        rows = range(len(self))[index] if isinstance(index, slice) else index.tolist()
        return pad_token_ids([self.encoded[row] for row in rows])[0]


@dataclass
class TextSplits:
    """Cleaned texts and class ids ([N] int64) of each split; `classes` names the ids."""

    train_texts: list
    train_y: torch.Tensor
    val_texts: list
    val_y: torch.Tensor
    test_texts: list
    test_y: torch.Tensor
    data_info: dict
    classes: list = field(default_factory=list)


def load_text_splits(path, seed=0, log=print) -> TextSplits:
    """A CSV with columns text,label → cleaned, stratified splits; raises DataError when it cannot
    be trained on."""
    frame = read_csv(path, ["text", "label"])
    rows = list(zip(frame["text"], labels_of(frame, "label", path)))
    texts, labels, report = clean_texts(rows)
    log(str(report))
    classes = class_names(labels, path)
    targets = np.array([classes.index(label) for label in labels], dtype=np.int64)
    train, validation, test = split_rows(targets, seed)
    data_info = {
        "source": str(Path(path)),
        "sha256": file_sha256(path),
        "rows": int(report.rows_in),
        "classes": {name: int((targets == index).sum()) for index, name in enumerate(classes)},
        "cleaning": {k: v for k, v in vars(report).items() if k != "unknown_label_values"},
        "split": {"train": len(train), "validation": len(validation), "test": len(test),
                  "seed": seed, "stratified_by": "class"},
    }
    log(f"split: {len(train)} train, {len(validation)} validation, {len(test)} test (seed {seed})")
    y = torch.from_numpy(targets)

    def pick(rows):
        return [texts[i] for i in rows], y[rows]

    return TextSplits(*pick(train), *pick(validation), *pick(test), data_info, classes)
