"""digits_cnn's reading quality on its evaluation sets: rates with margins from the measured seed spread."""

import json

import pytest
import torch
from PIL import Image

from harness.settings import ROOT
from models.checkpoint import build_model
from models.digits_cnn import LABELS, prepare_digit_image
from training.digits_evaluation import (HAND_DRAWN, KINDS, PENS, SIZES, SLANTS, TARGET_ACCURACY,
                                        TARGET_KINDS, evaluate_kinds, evaluation_sets)
from training.digits_seed_spread import SPREAD
from training.digits_sources import FONTS, fonts_for, mnist_digits, mnist_holdout_mask

SEED_SPREAD = json.loads(SPREAD.read_text())


def allowed_minimum(kind):
    """A kind's lowest accuracy over the measured seeds, less a margin as wide as the spread
    (at least one point): what another machine's training may still give."""
    figures = SEED_SPREAD["spread"][kind]
    return figures["min"] - max(0.01, figures["max"] - figures["min"])


@pytest.fixture(scope="module")
def kinds(digits_cnn_checkpoint):
    return evaluate_kinds(build_model(digits_cnn_checkpoint))


def test_the_spread_covers_five_seeds_and_each_meets_the_target():
    assert len(SEED_SPREAD["per_seed"]) >= 5
    for seed, figures in SEED_SPREAD["per_seed"].items():
        for kind in TARGET_KINDS:
            assert figures[kind] >= TARGET_ACCURACY, (seed, kind, figures[kind])
    assert SEED_SPREAD["every_seed_meets_target"] is True


@pytest.mark.parametrize("kind", KINDS)
def test_the_checkpoint_reads_each_kind_within_the_seed_spread(kinds, kind):
    result = kinds[kind]
    assert result["accuracy"] >= allowed_minimum(kind), (kind, result["misread"])
    if kind in TARGET_KINDS:
        assert result["accuracy"] >= TARGET_ACCURACY - 0.01, (kind, result["misread"])


def test_recorded_figures_are_reproducible_from_the_checkpoint(digits_cnn_checkpoint, kinds):
    recorded = digits_cnn_checkpoint["metrics"]["kinds"]
    for kind in KINDS:
        assert kinds[kind]["count"] == recorded[kind]["count"]
        assert kinds[kind]["accuracy"] == pytest.approx(recorded[kind]["accuracy"], abs=0.002)
        assert 0.0 <= recorded[kind]["ece"] <= 1.0


def test_the_handwritten_set_covers_every_style_pen_slant_size_and_polarity():
    styles = {(label, style) for label, style in HAND_DRAWN}
    assert {("1", "plain"), ("1", "flag_and_base"), ("7", "plain"), ("7", "crossbar"),
            ("4", "open"), ("4", "closed"), ("9", "straight_stem"), ("9", "curved_stem")} <= styles
    assert {label for label, _ in HAND_DRAWN} == set(LABELS)
    assert SLANTS == (-10.0, 0.0, 10.0) and SIZES == (28, 1000) and set(PENS) == {"thin", "thick"}
    handwritten = evaluation_sets()["handwritten"]
    assert len(handwritten.labels) == len(HAND_DRAWN) * len(PENS) * len(SLANTS) * len(SIZES) * 2


def test_evaluation_fonts_are_never_training_fonts_and_cover_three_styles():
    evaluation, training = set(fonts_for("evaluation")), set(fonts_for("train"))
    assert evaluation and training and not evaluation & training
    assert {FONTS[name][2] for name in evaluation} == {"sans", "serif", "monospace"}
    files = {FONTS[name][1] for name in evaluation}
    assert not files & {FONTS[name][1] for name in training}


def test_the_mnist_holdout_is_a_fixed_balanced_thousand():
    _, labels = mnist_digits()
    holdout = mnist_holdout_mask(labels)
    assert int(holdout.sum()) == 1000
    assert torch.bincount(torch.from_numpy(labels[holdout])).tolist() == [100] * 10
    assert len(evaluation_sets()["mnist_holdout"].labels) == 1000


def test_the_sample_digit_reads_as_3_with_a_wide_margin(digits_cnn_checkpoint):
    pixels = prepare_digit_image(Image.open(ROOT / "samples" / "digit_3.png"))
    with torch.inference_mode():
        probabilities = torch.softmax(build_model(digits_cnn_checkpoint)(
            torch.from_numpy(pixels)[None, None]), 1)[0]
    assert int(probabilities.argmax()) == 3
    assert float(probabilities[3]) >= 0.9
