"""models/pillow_resize.py gives, for a whole stack of float32 pictures, the values the installed
Pillow's resize and reduce give each picture, to the last bit."""

import numpy as np
import pytest
from PIL import Image

from models import pillow_resize

RNG_SEED = 15


def pillow_resized(stack, height, width, resample):
    return np.stack([np.asarray(Image.fromarray(picture).resize((width, height), resample))
                     for picture in stack])


def random_stack(rng, count, height, width):
    """Values like ink: mostly whole or half levels, some any float32, some zero."""
    stack = rng.uniform(0, 255, (count, height, width)).astype(np.float32)
    stack[0] = np.round(stack[0] * 2) / 2
    stack[:, :, : width // 4] = 0
    return stack


def test_enlarging_picks_the_pixels_pillows_nearest_picks():
    rng = np.random.default_rng(RNG_SEED)
    for _ in range(60):
        height, width = rng.integers(1, 64, 2)
        new_height, new_width = rng.integers(height, 65), rng.integers(width, 65)
        stack = random_stack(rng, 3, height, width)
        assert np.array_equal(pillow_resize.resize(stack, new_height, new_width),
                              pillow_resized(stack, new_height, new_width, Image.Resampling.NEAREST))


@pytest.mark.parametrize("height, width, new_height, new_width", [
    (73, 50, 64, 44),  # the sample's crop: across first
    (300, 100, 64, 21), (120, 120, 2, 64), (120, 120, 2, 61),  # either side of Pillow's pass order
    (120, 100, 80, 80),  # the height loses exactly twice the width's pixels: across first
    (64, 200, 20, 64), (511, 30, 64, 4), (65, 65, 64, 64), (90, 64, 64, 64)])
def test_shrinking_gives_pillows_box_values(height, width, new_height, new_width):
    stack = random_stack(np.random.default_rng(RNG_SEED), 3, height, width)
    assert np.array_equal(pillow_resize.resize(stack, new_height, new_width),
                          pillow_resized(stack, new_height, new_width, Image.Resampling.BOX))


def test_shrinking_by_any_amount_gives_pillows_box_values():
    rng = np.random.default_rng(RNG_SEED)
    for _ in range(60):
        height, width = rng.integers(2, 400, 2)
        new_height, new_width = rng.integers(1, height + 1), rng.integers(1, width + 1)
        stack = random_stack(rng, 2, height, width)
        assert np.array_equal(pillow_resize.resize(stack, new_height, new_width),
                              pillow_resized(stack, new_height, new_width, Image.Resampling.BOX)), (
            height, width, new_height, new_width)


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_reducing_gives_pillows_block_means(factor):
    stack = random_stack(np.random.default_rng(RNG_SEED), 4, 64, 64)
    expected = np.stack([np.asarray(Image.fromarray(picture).reduce(factor)) for picture in stack])
    assert np.array_equal(pillow_resize.reduce(stack, factor), expected)


def test_what_it_does_not_reproduce_is_refused():
    stack = np.zeros((1, 10, 10), dtype=np.float32)
    with pytest.raises(ValueError, match="grows both sides"):
        pillow_resize.resize(stack, 20, 5)
    with pytest.raises(ValueError, match="even factor"):
        pillow_resize.reduce(stack, 5)
