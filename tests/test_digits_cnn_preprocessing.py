"""prepare_digit_image on pictures as users send them: any size, polarity, mode and format."""

import io

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from families.digits_cnn_pictures import STROKES, draw_digit, encode, on_transparent, scanned
from models.digits_cnn import MAX_INK, digits_to_image, prepare_digit_image

DIGITS = load_digits()
SAMPLE = range(0, 1797, 60)  # 30 images spread over every class


def canonical(index):
    return prepare_digit_image(digits_to_image(DIGITS.images[index]))


def reopen(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_output_is_8x8_on_the_training_scale():
    pixels = canonical(0)
    assert pixels.shape == (8, 8) and pixels.dtype == np.float32
    assert float(pixels.min()) == 0.0 and float(pixels.max()) == MAX_INK


@pytest.mark.parametrize("dress", ["dark_ink_large_off_centre", "rgb_colour", "rgba_transparent",
                                   "jpeg", "palette_gif", "sixteen_bit_png", "bmp", "webp"])
def test_the_same_digit_in_any_dress_gives_the_same_pixels(dress):
    for index in SAMPLE:
        big = scanned(DIGITS.images[index])
        picture = {
            "dark_ink_large_off_centre": lambda: big,
            "rgb_colour": lambda: Image.merge("RGB", (big, big, Image.eval(big, lambda v: v // 2))),
            "rgba_transparent": lambda: on_transparent(big),
            "jpeg": lambda: reopen(encode(big, "JPEG", quality=90)),
            "palette_gif": lambda: reopen(encode(big.convert("P"), "GIF")),
            "sixteen_bit_png": lambda: reopen(encode(
                Image.fromarray(np.asarray(big, dtype=np.uint16) * 257), "PNG")),
            "bmp": lambda: reopen(encode(big, "BMP")),
            "webp": lambda: reopen(encode(big, "WEBP", lossless=True)),
        }[dress]()
        difference = np.abs(prepare_digit_image(picture) - canonical(index))
        # JPEG blurs edges a little; every other dress is exact up to 8-bit rounding.
        assert difference.mean() < (0.1 if dress == "jpeg" else 0.05), (dress, index)


def test_light_ink_on_dark_and_dark_ink_on_light_match():
    for digit in STROKES:
        dark_on_light = prepare_digit_image(draw_digit(digit, dark_on_light=True))
        light_on_dark = prepare_digit_image(draw_digit(digit, dark_on_light=False))
        assert np.abs(dark_on_light - light_on_dark).max() < 0.1


def test_size_does_not_matter():
    for digit in "0347":
        drawn = draw_digit(digit, size=200)
        reference = prepare_digit_image(drawn)
        for size in (48, 3000):
            resized = drawn.resize((size, size), Image.Resampling.BICUBIC)
            # Within 1/16 of the ink scale on average, even from a 48-pixel thumbnail.
            assert np.abs(prepare_digit_image(resized) - reference).mean() < 1.0, (digit, size)


@pytest.mark.parametrize("picture", [Image.new("L", (50, 50), 255), Image.new("RGB", (1, 1)),
                                     Image.new("RGBA", (20, 20), (0, 0, 0, 0))])
def test_a_blank_picture_is_refused(picture):
    with pytest.raises(ValueError, match="no visible digit"):
        prepare_digit_image(picture)


def lit_from_one_side(picture: Image.Image, dimmest=0.7) -> Image.Image:
    """A grayscale picture under light that falls off linearly from left to right."""
    width = picture.size[0]
    light = np.linspace(1.0, dimmest, width, dtype=np.float32)[None, :]
    return Image.fromarray((np.asarray(picture, dtype=np.float32) * light).astype(np.uint8))


def test_uneven_light_on_the_page_is_not_read_as_ink():
    for index in SAMPLE:
        shaded = lit_from_one_side(scanned(DIGITS.images[index]))
        difference = np.abs(prepare_digit_image(shaded) - canonical(index))
        assert difference.mean() < 0.5, index
    # The median of the border alone would take the dim side for ink: the crop would grow to
    # the whole page and the digit would shrink.
    shaded = prepare_digit_image(lit_from_one_side(draw_digit("1", size=200), dimmest=0.6))
    assert np.abs(shaded - prepare_digit_image(draw_digit("1", size=200))).mean() < 0.5
