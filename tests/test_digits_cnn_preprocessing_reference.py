"""The batched preprocessing against the one it replaced (bench/handlers_before/digits_cnn.py):
on a seeded corpus of 2,000 pictures of every size, mode, format and polarity, the same pixels
and the same refusals, and the served model reads the same digit in every picture."""

import re

import numpy as np
import pytest
import torch

from bench.handlers_before import digits_cnn as before
from families.digits_cnn import TOLERANCE
from families.digits_cnn_picture_corpus import LARGEST_SIDE, picture_corpus
from handlers.digits_cnn import DigitsCNNHandler, open_image
from handlers.messages import Request
from harness.settings import worker_threads
from models.digits_cnn import prepare_digit_images

BATCH_SIZE = 32  # model-config's batchSize: the batches the server forms
PICTURES = 2000
# The pixels may differ in float32 rounding, never more (most are equal to the last bit).
PIXEL_TOLERANCE = 1e-5

# 2,000 pictures through both preprocessings and the model: about ten seconds.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus():
    return picture_corpus(PICTURES, seed=15)


def batches(items):
    return [items[start:start + BATCH_SIZE] for start in range(0, len(items), BATCH_SIZE)]


def test_the_corpus_holds_every_size_mode_format_and_polarity(corpus):
    described = [re.match(r"\d+: (.+), (\d+)x(\d+) (\S+) (\S+)$", what).groups()
                 for what, _ in corpus]
    sides = [int(side) for _, width, height, _, _ in described for side in (width, height)]
    assert len(corpus) >= 2000
    assert min(sides) == 8 and max(sides) == LARGEST_SIDE
    assert {mode for *_, mode, _ in described} == {"L", "RGB", "RGBA", "I;16", "P"}
    assert {image_format for *_, image_format in described} == {"PNG", "JPEG", "BMP", "GIF", "WEBP"}
    assert {kind for kind, *_ in described} == {"dark on light", "light on dark", "blank"}


def test_the_pixels_are_the_replaced_preprocessings(corpus):
    refused = 0
    for batch in batches(corpus):
        images = [open_image(data) for _, data in batch]
        for (what, _), image, prepared in zip(batch, images, prepare_digit_images(images)):
            try:
                expected = before.prepare_digit_image(image)
            except ValueError as error:  # the same refusal, in the same words
                assert type(prepared) is type(error) and str(prepared) == str(error), what
                refused += 1
                continue
            assert isinstance(prepared, np.ndarray) and prepared.dtype == np.float32, what
            assert np.abs(prepared - expected).max() <= PIXEL_TOLERANCE, what
    assert 0 < refused < PICTURES // 10  # the blank pages, and no more


def test_the_served_model_reads_the_same_digit_in_every_picture(corpus, checkpoint_dir):
    torch.set_num_threads(worker_threads("digits_cnn"))  # as its worker runs (conftest puts it back)
    path = checkpoint_dir / "digits_cnn" / "model.pt"
    handler, handler_before = DigitsCNNHandler.from_checkpoint_file(path), before.HANDLER.from_checkpoint_file(path)
    for batch in batches(corpus):
        requests = [Request(data, "application/octet-stream") for _, data in batch]
        for (what, _), answer, expected in zip(batch, handler.handle(requests),
                                               handler_before.handle(requests)):
            assert answer.status == expected.status, what
            if expected.status != 200:
                assert answer.body == expected.body, what
                continue
            assert answer.body["label"] == expected.body["label"], what
            for entry, expected_entry in zip(answer.body["top_k"], expected.body["top_k"]):
                assert entry["probability"] == pytest.approx(expected_entry["probability"],
                                                             abs=TOLERANCE), what
