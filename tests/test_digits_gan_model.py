"""digits_gan's model module: shapes, seeded noise, batch-invariant generation, served PNGs; its training data."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from models.digits_cnn import MAX_INK, digits_to_image
from models.digits_gan import (MAX_SEED, NOISE_DIM, DigitsDiscriminator, DigitsGenerator,
                               decode_png, generate, generate_pngs, ink_to_unit, render_png,
                               request_noise)
from training.digits_gan import training_images
from training.digits_gan_evaluation import within_digit_spread


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return DigitsGenerator(hidden=(16, 32)).eval()


def test_generator_maps_noise_and_labels_to_8x8_ink_on_0_to_16(generator):
    with torch.inference_mode():
        images = generator(torch.randn(5, NOISE_DIM) * 10, torch.arange(5))
    assert images.shape == (5, 1, 8, 8)
    assert float(images.min()) >= 0.0 and float(images.max()) <= MAX_INK


def test_discriminator_gives_one_logit_per_image():
    discriminator = DigitsDiscriminator(hidden=(16, 8)).eval()
    assert discriminator(torch.rand(6, 1, 8, 8) * 16, torch.arange(6)).shape == (6,)
    assert torch.equal(ink_to_unit(torch.tensor([0.0, 8.0, 16.0])), torch.tensor([-1.0, 0.0, 1.0]))


def test_request_noise_depends_on_the_seed_alone():
    assert torch.equal(request_noise(123, 4), request_noise(123, 4))
    torch.manual_seed(1)  # the global generator has no say
    assert torch.equal(request_noise(123, 4), request_noise(123, 4))
    assert not torch.equal(request_noise(123, 4), request_noise(124, 4))
    assert request_noise(MAX_SEED, 16).shape == (16, NOISE_DIM)


def test_an_image_does_not_depend_on_what_shares_its_batch(generator):
    noise, labels = request_noise(7, 12), torch.arange(12) % 10
    together = generate(generator, noise, labels)
    for i in range(12):
        alone = generate(generator, noise[i:i + 1], labels[i:i + 1])
        assert torch.equal(together[i:i + 1], alone)
    # Shuffled among other images, each image keeps its exact pixels.
    order = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    assert torch.equal(generate(generator, noise[order], labels[order]), together[order])


def test_render_png_is_an_8x8_grayscale_png_light_ink_on_black():
    pixels = torch.zeros(1, 8, 8)
    pixels[0, 2:6, 3] = MAX_INK
    png = render_png(pixels)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(png))
    assert image.size == (8, 8) and image.mode == "L"
    values = np.asarray(image)
    assert values[3, 3] == 255 and values[0, 0] == 0
    assert np.array_equal(values, np.asarray(digits_to_image(pixels[0].numpy())))
    assert np.array_equal(np.asarray(decode_png(png)), values)


def test_generate_pngs_is_reproducible_per_seed(generator):
    first = generate_pngs(generator, 7, 4, 123)
    assert len(first) == 4 and first == generate_pngs(generator, 7, 4, 123)
    assert first != generate_pngs(generator, 7, 4, 124)
    assert first != generate_pngs(generator, 1, 4, 123)


def test_training_uses_train_and_validation_of_the_classifiers_split(digits_cnn_checkpoint, capsys):
    pixels, labels, data = training_images(digits_cnn_checkpoint)
    split = data["split"]
    assert split["seed"] == digits_cnn_checkpoint["data"]["split"]["seed"]
    assert len(labels) == split["train"] + split["validation"] == data["images"]
    assert data["used"] == "train+validation"
    assert pixels.shape == (len(labels), 1, 8, 8)
    # Prepared like served digits: the strongest cell of every image is 16.
    peaks = pixels.amax(dim=(1, 2, 3))
    assert torch.allclose(peaks, torch.full_like(peaks, MAX_INK))
    assert "cleaning: 1797 rows in" in capsys.readouterr().out
    assert data["cleaning"]["rows_out"] == data["rows"]


def test_spread_is_zero_for_copies_and_grows_with_variety():
    same = torch.ones(10, 1, 8, 8)
    digits = torch.tensor([0] * 5 + [1] * 5)
    assert within_digit_spread(same, digits) == 0.0
    varied = torch.rand(10, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 16
    assert within_digit_spread(varied, digits) > 10.0
