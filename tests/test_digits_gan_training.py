"""Training digits_gan: what the dry run reports and records, the classifier it needs, and the trained checkpoint's quality."""

import pytest

from handlers.digits_cnn import DigitsCNNHandler
from handlers.messages import Request
from models.checkpoint import build_model, load_checkpoint
from models.digits_gan import LABELS, generate_pngs
from tests.scripts import run_training
from training.digits_gan_evaluation import (NO_DIGIT, classify_pngs, labeled_as_requested,
                                            load_classifier)


@pytest.fixture(scope="module")
def classifier_path(checkpoint_dir):
    return checkpoint_dir / "digits_cnn" / "model.pt"


@pytest.fixture(scope="module")
def gan_checkpoint(checkpoint_dir):
    return load_checkpoint(checkpoint_dir / "digits_gan" / "model.pt")


def test_dry_run_is_judged_by_the_classifier_beside_it_and_draws_a_sample_grid(dry_run):
    printed, out = dry_run("digits_gan")
    assert "epoch   1/1  d_loss" in printed and "g_loss" in printed
    assert "cleaning: 1797 rows in" in printed
    assert "labeled as the requested digit by digits_cnn" in printed

    checkpoint = load_checkpoint(out / "model.pt")
    assert checkpoint["training"]["loss"] == "BCEWithLogitsLoss"
    assert checkpoint["training"]["lr"] == 2e-4 and checkpoint["training"]["betas"] == [0.5, 0.999]
    assert checkpoint["data"]["used"] == "train+validation"
    assert checkpoint["metrics"]["judged_by"]["path"] == str(out.parent / "digits_cnn" / "model.pt")
    assert set(checkpoint["metrics"]["per_digit"]) == set(LABELS)
    assert (out / "samples.png").exists()


def test_a_missing_classifier_stops_training_with_advice(tmp_path):
    # A SystemExit with a message: the command line shows the advice alone, no traceback.
    with pytest.raises(SystemExit) as stop:
        run_training("digits_gan", "--dry-run", "--out", tmp_path / "gan",
                     "--classifier", tmp_path / "none.pt")
    assert "no digits_cnn classifier at" in str(stop.value.code)
    assert "train digits_cnn first: python -m training.digits_cnn" in str(stop.value.code)
    assert not (tmp_path / "gan" / "model.pt").exists()


def test_a_checkpoint_of_another_family_is_no_classifier(checkpoint_dir):
    with pytest.raises(Exception, match="not the digits_cnn classifier"):
        load_classifier(checkpoint_dir / "digits_gan" / "model.pt")


def test_evaluation_reads_generated_pngs_as_the_served_classifier_does(gan_checkpoint,
                                                                      classifier_path):
    classifier, _ = load_classifier(classifier_path)
    served = DigitsCNNHandler.from_checkpoint_file(classifier_path)
    generator = build_model(gan_checkpoint)
    pngs = [png for digit in range(10) for png in generate_pngs(generator, digit, 6, 42)]
    answers = served.handle([Request(png, "image/png") for png in pngs])
    expected = [int(a.body["label"]) if a.status == 200 else NO_DIGIT for a in answers]
    assert classify_pngs(classifier, pngs) == expected


def test_trained_generator_is_read_as_the_requested_digit_80_percent_of_the_time(
        gan_checkpoint, classifier_path):
    metrics = gan_checkpoint["metrics"]
    assert metrics["labeled_as_requested"] >= 0.80 and metrics["meets_target"]
    assert set(metrics["per_digit"]) == set(LABELS)
    assert min(metrics["per_digit"].values()) >= 0.5  # no digit is left behind
    matrix = metrics["confusion_matrix"]["matrix"]
    assert [sum(row) for row in matrix] == [metrics["images_per_digit"]] * 10
    assert sum(matrix[d][d] for d in range(10)) / sum(map(sum, matrix)) == pytest.approx(
        metrics["labeled_as_requested"])
    # Not one drawing per digit: images of one digit differ about as real ones do.
    assert metrics["spread"]["generated"] >= 0.4 * metrics["spread"]["real"]

    # The recorded figure is reproducible from the two checkpoints alone.
    classifier, classifier_checkpoint = load_classifier(classifier_path)
    judged = labeled_as_requested(build_model(gan_checkpoint), classifier,
                                  metrics["requests"]["per_digit"], metrics["requests"]["seeds"][0])
    assert judged["overall"] >= 0.80
    if classifier_checkpoint["created_at"] == metrics["judged_by"]["created_at"]:
        assert judged["overall"] == metrics["labeled_as_requested"]
        assert judged["per_digit"] == metrics["per_digit"]
