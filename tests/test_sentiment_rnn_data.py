"""sentiment_rnn data: the generator, text normalization, tokenizer, cleaning counts, splits and vocabulary."""

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from models.text import PAD, UNK, normalize_text, tokenize
from training.sentiment_data import (DEFAULT_DATA, clean_reviews, load_sentiment_splits,
                                     read_reviews_csv, split_stratified)
from training.text_data import build_vocabulary

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "training" / "data" / "make_sentiment_data.py"


def test_generator_rewrites_the_committed_csv_byte_for_byte(tmp_path):
    out = tmp_path / "sentiment.csv"
    result = subprocess.run([sys.executable, str(GENERATOR), "--out", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == DEFAULT_DATA.read_bytes()


def test_another_seed_gives_other_reviews(tmp_path):
    out = tmp_path / "other.csv"
    subprocess.run([sys.executable, str(GENERATOR), "--out", str(out), "--rows", "200",
                    "--seed", "7"], cwd=ROOT, check=True, capture_output=True, timeout=120)
    texts = {text for text, _ in read_reviews_csv(out)}
    assert len(texts & {text for text, _ in read_reviews_csv(DEFAULT_DATA)}) < 20


def test_shipped_data_is_large_balanced_and_has_every_kind_of_dirt():
    rows = read_reviews_csv(DEFAULT_DATA)
    texts, labels, report = clean_reviews(rows)
    assert report.rows_out >= 2000 and len(texts) == report.rows_out
    assert abs(labels.count(0) - labels.count(1)) <= 0.05 * len(labels)
    for count in ("illegal_characters", "unicode_normalized", "white_space", "missing",
                  "unknown_labels", "duplicates"):
        assert getattr(report, count) >= 10, count
    raw = "".join(text or "" for text, _ in rows)
    assert any("\uff01" <= ch <= "\uff5e" for ch in raw)  # fullwidth letters
    assert any("\ufb00" <= ch <= "\ufb04" for ch in raw)  # ligatures: ﬀ ﬁ ﬂ ﬃ ﬄ
    for dirt in ("\x07", "\u200b", "\ufeff", "\u00a0", "\t", "\n"):
        assert dirt in raw, repr(dirt)
    assert {"neutral", "pos"} <= set(report.unknown_label_values)
    # Kept texts are clean: nothing a second pass of cleaning would change.
    assert all(normalize_text(text) == text for text in texts)


def test_normalization_strips_illegal_characters_and_applies_nfkc_and_white_space():
    assert normalize_text("  gr\u200beat\x07 \t\n ｆｉｌｍ\u00a0and \ufb01ne\ufeff  ") == "great film and fine"
    assert normalize_text("bad\ud800 \ue000phone\ufdd0") == "bad phone"  # surrogate, private use, noncharacter
    assert normalize_text("line\u2028two\r\nthree") == "line two three"
    assert normalize_text("\u200b\x00 \t") == ""
    assert normalize_text("Café ½ naïve") == "Café 1⁄2 naïve"  # NFKC keeps accents, splits ½


def test_tokenizer_lowercases_and_splits_negations_and_symbols():
    assert tokenize("The room ISN'T clean!!") == ["the", "room", "is", "n't", "clean", "!", "!"]
    assert tokenize("I didn\u2019t like it, it's fine") == ["i", "did", "n't", "like", "it", ",",
                                                            "it's", "fine"]
    assert tokenize("🙂") == ["🙂"]  # any visible character is a token, so no text is token-less


def test_clean_reviews_counts_each_problem():
    rows = [
        ("The food was great.", "positive"),  # kept
        ("The  food was\tgreat.", "positive"),  # duplicate after white space
        ("ＴＨＥ food was great.", "positive"),  # duplicate after NFKC and case
        ("The food was great.", "positive"),  # exact duplicate
        ("The service was slow\x07.", "negative"),  # control character stripped, kept
        ("Nice view\u200b!", " Positive "),  # zero-width stripped, label trimmed and lower-cased
        ("Loved the plot.", "positive"),  # same tokens as the next row, other label: both dropped
        ("loved the plot.", "negative"),
        ("", "positive"),  # missing text
        ("\u200b \x07", "negative"),  # nothing left after cleaning
        ("Good pizza.", None),  # missing label
        ("Bad pizza.", ""),  # missing label
        ("It was fine.", "neutral"),  # unknown labels
        ("Great!", "pos"),
        (None, "positive"),
    ]
    texts, labels, report = clean_reviews(rows)
    assert texts == ["The food was great.", "The service was slow.", "Nice view!"]
    assert labels == [1, 0, 1]
    assert (report.rows_in, report.illegal_characters, report.unicode_normalized,
            report.white_space, report.missing, report.unknown_labels, report.duplicates,
            report.conflicting, report.rows_out) == (15, 3, 1, 2, 5, 2, 3, 2, 3)
    assert report.unknown_label_values == {"neutral": 1, "pos": 1}
    line = str(report)
    assert "\n" not in line
    for phrase in ("15 rows in", "3 with illegal characters stripped", "1 NFKC-normalized",
                   "2 with white space collapsed", "5 with missing text or label dropped",
                   "2 with unknown labels rejected", "3 duplicates dropped",
                   "2 with conflicting labels dropped", "3 rows kept"):
        assert phrase in line


def test_csv_without_text_and_label_columns_is_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("review,stars\nGreat,5\n")
    with pytest.raises(SystemExit, match="columns text,label"):
        read_reviews_csv(path)


def test_splits_are_stratified_disjoint_and_reproducible():
    labels = [0] * 300 + [1] * 200
    train, val, test = split_stratified(labels, seed=3)
    assert (len(train), len(val), len(test)) == (350, 75, 75)
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    for part in (train, val, test):
        share = sum(labels[i] for i in part) / len(part)
        assert share == pytest.approx(0.4, abs=0.02)
    assert (train, val, test) == split_stratified(labels, seed=3)
    assert train != split_stratified(labels, seed=4)[0]


def test_vocabulary_keeps_frequent_training_words_after_pad_and_unk():
    vocabulary = build_vocabulary(["good good film", "bad film", "good day"], min_frequency=2)
    assert vocabulary == [PAD, UNK, "good", "film"]  # most frequent first; "bad", "day" too rare
    assert build_vocabulary(["b a", "a b"], min_frequency=1) == [PAD, UNK, "a", "b"]  # ties: a-z


def test_vocabulary_comes_from_the_training_split_only():
    splits = load_sentiment_splits(seed=0, log=lambda line: None)
    vocabulary = set(build_vocabulary(splits.train_texts))
    held_out = Counter(t for text in splits.val_texts + splits.test_texts for t in tokenize(text))
    in_training = Counter(t for text in splits.train_texts for t in tokenize(text))
    # Words the training split uses fewer than twice stay out, however often validation and test use them.
    rare = [token for token in held_out if in_training[token] < 2]
    assert rare and not set(rare) & vocabulary
    assert {token for token, count in in_training.items() if count >= 2} <= vocabulary


def test_split_sizes_and_data_info_describe_the_cleaned_csv():
    lines = []
    splits = load_sentiment_splits(seed=0, log=lines.append)
    info = splits.data_info
    assert info["source"] == "training/data/sentiment.csv" and len(info["sha256"]) == 64
    assert info["rows"] == info["cleaning"]["rows_out"] == (
        len(splits.train_texts) + len(splits.val_texts) + len(splits.test_texts))
    assert info["split"] == {"train": len(splits.train_texts), "validation": len(splits.val_texts),
                             "test": len(splits.test_texts), "seed": 0}
    assert lines[0].startswith(f"cleaning: {info['cleaning']['rows_in']} rows in")
    assert not set(splits.train_texts) & set(splits.test_texts)
