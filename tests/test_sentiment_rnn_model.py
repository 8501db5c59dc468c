"""sentiment_rnn model and training: shapes, subword ids, padding never changes a score, the checkpoint's quality."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from families.sentiment_rnn import HAND_WRITTEN
from models.checkpoint import REQUIRED_KEYS, build_model, load_checkpoint
from models.sentiment_rnn import MAX_TOKENS, SentimentRNN
from models.text import (_APOSTROPHES, _TOKEN, NGRAM_BUCKETS, NORMALIZATION_STEPS, PAD, PAD_ID,
                         UNK, UNK_ID, ngram_bucket, ngrams, normalize_text, pad_encoded_words,
                         pad_token_ids, tokenize)
from tests.scripts import run_training
from training.sentiment_data import (DEFAULT_DATA, load_lexicon_splits, load_sentiment_splits,
                                     read_reviews_csv)
from training.sentiment_rnn import predict_probabilities
from training.tables import file_sha256
from training.text_data import build_vocabulary

ROOT = Path(__file__).resolve().parent.parent

@pytest.fixture(scope="module")
def sentiment_checkpoint(checkpoint_dir):
    return load_checkpoint(checkpoint_dir / "sentiment_rnn" / "model.pt")


@pytest.fixture(scope="module")
def trained_model(sentiment_checkpoint):
    return build_model(sentiment_checkpoint)


def small_model(seed=0):
    torch.manual_seed(seed)
    vocabulary = [PAD, UNK] + sorted({t for text, _ in HAND_WRITTEN for t in tokenize(text)})
    return SentimentRNN(vocabulary, embedding_dim=8, hidden_size=6).eval()


def test_model_maps_padded_ids_to_one_logit_per_text():
    model = small_model()
    ids, lengths = pad_token_ids([[[2, 9], [3], [4]], [[5, 8, 7]], [[6], [7]]])
    assert ids.shape == (3, 3, 3) and lengths.tolist() == [3, 1, 2]
    assert ids[1].tolist() == [[5, 8, 7], [PAD_ID] * 3, [PAD_ID] * 3]
    assert ids[0, 0].tolist() == [2, 9, PAD_ID]
    # The handler's collate pads [T, K] tensors of different shapes the same way.
    again, again_lengths = pad_token_ids([ids[0, :3, :2], ids[1, :1], ids[2, :2, :1]])
    assert torch.equal(again, ids) and torch.equal(again_lengths, lengths)
    with torch.inference_mode():
        logits = model(ids, lengths)
        assert logits.shape == (3,) and logits.dtype == torch.float32
        # Without lengths, the model counts the non-padding ids itself.
        assert torch.equal(model(ids), logits)


def test_encode_reads_known_words_by_id_and_every_word_by_its_ngrams():
    model = small_model()
    first_bucket = len(model.vocabulary)
    the, acting, unseen = model.encode("the acting zzyzx")
    assert the[0] == model.token_ids["the"] and acting[0] == model.token_ids["acting"]
    # An unseen word is not <unk>: it reads through its n-grams, as the others also do.
    assert unseen == [first_bucket + ngram_bucket(gram) for gram in ngrams("zzyzx")]
    assert the[1:] == [first_bucket + ngram_bucket(gram) for gram in ngrams("the")]
    assert ngrams("good") == ["<go", "goo", "ood", "od>", "<goo", "good", "ood>", "<good", "good>"]
    assert len(model.encode("good " * (MAX_TOKENS + 50))) == MAX_TOKENS
    ids = [i for token in model.encode("<pad> <unk> unseen words only !") for i in token]
    assert PAD_ID not in ids and UNK_ID not in ids
    assert all(first_bucket <= i < first_bucket + NGRAM_BUCKETS for token in
               model.encode("zzyzx qwv") for i in token)


@pytest.mark.slow  # starts fresh interpreters
def test_ngram_hashing_is_the_same_in_every_process():
    # Python's hash() of a str differs per process (PYTHONHASHSEED); the ids must not.
    code = ("from models.text import ngram_bucket, ngrams; "
            "print([ngram_bucket(g) for g in ngrams('attentive')])")
    runs = {subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                           env={"PYTHONHASHSEED": seed, "PATH": ""}, timeout=60).stdout
            for seed in ("1", "2")}
    assert runs == {str([ngram_bucket(gram) for gram in ngrams("attentive")]) + "\n"}


def test_vocabulary_must_start_with_pad_and_unk():
    with pytest.raises(ValueError, match="must start with"):
        SentimentRNN(["good", "bad"])


@pytest.mark.parametrize("which", ["untrained", "trained"])
def test_padding_never_changes_a_score(which, trained_model):
    model = small_model() if which == "untrained" else trained_model
    texts = [normalize_text(text) for text, _ in HAND_WRITTEN]
    texts += ["Great!", " ".join(texts[:6])]  # a very short and a long one
    ids = [model.encode(text) for text in texts]
    with torch.inference_mode():
        alone = torch.cat([model(*pad_token_ids([one])) for one in ids])
        together = model(*pad_token_ids(ids))
        # Extra padding columns past the longest text change nothing either.
        padded, lengths = pad_token_ids(ids)
        wider = torch.cat([padded, torch.full((len(ids), 40, padded.shape[2]), PAD_ID)], dim=1)
        wider = torch.cat([wider, torch.full((*wider.shape[:2], 7), PAD_ID)], dim=2)
        widest = model(wider, lengths)
    assert max(map(len, ids)) > 3 * min(map(len, ids))  # a batch that really pads
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(widest, alone, atol=1e-5, rtol=0)


def test_hand_written_reviews_are_not_in_the_data_set():
    seen = {" ".join(tokenize(normalize_text(text or ""))) for text, _ in read_reviews_csv(DEFAULT_DATA)}
    for text, _ in HAND_WRITTEN:
        assert " ".join(tokenize(normalize_text(text))) not in seen, text


def test_checkpoint_reaches_90_percent_and_the_figure_is_reproducible(sentiment_checkpoint,
                                                                      trained_model):
    metrics = sentiment_checkpoint["metrics"]
    assert metrics["accuracy"] >= 0.90
    assert min(metrics["precision"], metrics["recall"], metrics["f1"]) >= 0.85
    assert metrics["roc_auc"] >= 0.95
    matrix = torch.tensor(metrics["confusion_matrix"]["matrix"])
    assert int(matrix.diag().sum()) / int(matrix.sum()) == pytest.approx(metrics["accuracy"])
    assert metrics["cleaning"] == sentiment_checkpoint["data"]["cleaning"]

    data = sentiment_checkpoint["data"]
    assert data["sha256"] == file_sha256(ROOT / data["source"])
    splits = load_sentiment_splits(ROOT / data["source"], seed=data["split"]["seed"],
                                   log=lambda line: None)
    assert len(splits.test_labels) == metrics["rows"] == data["split"]["test"]
    predicted = (predict_probabilities(trained_model, splits.test_texts) >= 0.5).long()
    accuracy = float((predicted == torch.tensor(splits.test_labels)).float().mean())
    assert accuracy == pytest.approx(metrics["accuracy"])


def test_checkpoint_vocabulary_is_the_training_splits(sentiment_checkpoint):
    data, vocabulary = sentiment_checkpoint["data"], sentiment_checkpoint["model_args"]["vocabulary"]
    assert isinstance(vocabulary, list) and all(isinstance(token, str) for token in vocabulary)
    assert vocabulary[:2] == [PAD, UNK]
    seed = data["split"]["seed"]
    splits = load_sentiment_splits(ROOT / data["source"], seed=seed, log=lambda line: None)
    written = load_sentiment_splits(ROOT / data["written"]["source"], seed=seed,
                                    log=lambda line: None)
    assert written.data_info == data["written"]
    taken = [text for part in (splits, written)
             for text in part.train_texts + part.val_texts + part.test_texts]
    lexicon = load_lexicon_splits(seed=seed, log=lambda line: None, exclude=taken)
    assert lexicon.data_info == data["lexicon"]
    min_frequency = sentiment_checkpoint["preprocessing"]["min_frequency"]
    # Counted as training reads them: the written rows as often as they repeat.
    repeats = sentiment_checkpoint["training"]["written_repeats"]
    train_texts = (splits.train_texts + written.train_texts * repeats
                   + [text for text, _, _ in lexicon.train])
    assert vocabulary == build_vocabulary(train_texts, min_frequency)
    everything = train_texts + taken + [text for text, _, _ in lexicon.val + lexicon.test]
    assert vocabulary != build_vocabulary(everything, min_frequency)
    # Real words the template generator never wrote, taught by the rated lexicon.
    assert {"delicious", "kind", "beautiful", "caring"} <= set(vocabulary)
    assert sentiment_checkpoint["preprocessing"]["vocabulary_size"] == len(vocabulary)


def test_dry_run_on_another_csv_writes_checkpoint_metrics_and_curve(tmp_path):
    data = tmp_path / "reviews.csv"
    subprocess.run([sys.executable, str(ROOT / "training" / "data" / "make_sentiment_data.py"),
                    "--out", str(data), "--rows", "300", "--seed", "5"], cwd=ROOT, check=True,
                   capture_output=True, timeout=120)
    out = tmp_path / "out"
    printed = run_training("sentiment_rnn", "--dry-run", "--data", data, "--out", out,
                           "--version", "0.9")
    assert "epoch   1/1  train_loss" in printed
    cleaning_line = next(line for line in printed.splitlines() if line.startswith("cleaning:"))
    assert "rows in" in cleaning_line and "unknown labels rejected" in cleaning_line

    checkpoint = load_checkpoint(out / "model.pt")  # weights_only=True
    assert set(REQUIRED_KEYS) <= set(checkpoint)
    assert checkpoint["version"] == "0.9" and checkpoint["training"]["dry_run"] is True
    assert checkpoint["data"]["sha256"] == file_sha256(data)
    assert checkpoint["data"]["source"] == str(data.resolve())
    assert checkpoint["data"]["cleaning"]["unknown_labels"] > 0
    assert f"{checkpoint['data']['cleaning']['rows_in']} rows in" in cleaning_line
    assert checkpoint["training"]["loss"] == "BCEWithLogitsLoss"
    build_model(checkpoint)
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"accuracy", "precision", "recall", "f1", "roc_auc", "cleaning"} <= set(metrics)
    assert metrics["cleaning"] == checkpoint["data"]["cleaning"]
    assert (out / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ASCII text, and pieces the n't pattern and the apostrophes read.
TEXT = st.lists(st.one_of(st.characters(max_codepoint=127),
                          st.sampled_from(["n't", "isn't", "didn’t", "can't!", "’", " "])),
                max_size=30).map("".join)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(TEXT)
def test_the_quick_paths_read_text_as_the_three_steps_and_the_full_pattern(text):
    stepped = text
    for _, step in NORMALIZATION_STEPS:
        stepped = step(stepped)
    assert normalize_text(text) == stepped
    assert tokenize(stepped) == _TOKEN.findall(stepped.casefold().translate(_APOSTROPHES))


WORD_BY_WORD_MODEL = SentimentRNN([PAD, UNK, "good", "bad", "not"], ngram_buckets=1024)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.one_of(TEXT, st.sampled_from(["good", "bad", "not", "isn't", "Café"])),
                max_size=MAX_TOKENS // 2).map(" ".join))
def test_a_text_read_word_by_word_gives_the_ids_of_its_tokens(text):
    model = WORD_BY_WORD_MODEL  # one for every example: its words cached from earlier texts too
    expected = [model.token_id_list(token) for token in tokenize(text)[:MAX_TOKENS]]
    assert model.encode(text) == expected
    assert model.encode(text) == expected  # once more, from the words cached


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(["good", "bad", "not", "isn't", "Café", "x", "a,b", "!"]),
                min_size=1, max_size=MAX_TOKENS).map(" ".join))
def test_texts_padded_word_by_word_hold_the_ids_padded_token_by_token(text):
    model = WORD_BY_WORD_MODEL
    long_text = text + " " + text  # past MAX_TOKENS for the longer ones: cut at the same token
    texts = [text, long_text, "good"]
    ids, lengths = pad_encoded_words([model.encode_words(one) for one in texts])
    expected_ids, expected_lengths = pad_token_ids([model.encode(one) for one in texts])
    assert torch.equal(ids, expected_ids) and torch.equal(lengths, expected_lengths)


def test_padding_lists_and_tensors_give_the_ids_a_fill_token_by_token_gives():
    generator = torch.Generator().manual_seed(0)
    texts = [[torch.randint(2, 9000, (int(width),), generator=generator).tolist()
              for width in torch.randint(1, 30, (int(length),), generator=generator)]
             for length in torch.randint(1, 20, (12,), generator=generator)]
    ids, lengths = pad_token_ids(texts)
    expected = torch.full(ids.shape, PAD_ID, dtype=torch.int64)
    for row, text in enumerate(texts):
        for column, token_ids in enumerate(text):
            expected[row, column, :len(token_ids)] = torch.tensor(token_ids)
    assert torch.equal(ids, expected) and lengths.tolist() == [len(text) for text in texts]
    again, again_lengths = pad_token_ids([ids[row, :len(text)] for row, text in enumerate(texts)])
    assert torch.equal(again, ids) and torch.equal(again_lengths, lengths)
