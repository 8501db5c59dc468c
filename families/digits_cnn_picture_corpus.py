"""A seeded corpus of digit pictures as users send them: every size, mode, format and polarity.

`picture_corpus(count, seed)` draws the same files for the same arguments, so
a test that compares two preprocessings (tests/test_digits_cnn_preprocessing_reference.py)
sees the same pictures on every run. Most pictures are small or medium, the
sizes users send most and the cheap ones to decode; a few are large, and two
are 4096 px on a side, the largest accepted.
"""

import numpy as np
from PIL import Image

from families.digits_cnn_pictures import draw_digit, encode

# The formats each mode can be saved in (Pillow); I;16 only as PNG, the one
# format of the five that keeps 16 bits.
FORMATS_OF_MODE = {
    "L": ("PNG", "JPEG", "BMP", "GIF", "WEBP"),
    "RGB": ("PNG", "JPEG", "BMP", "WEBP"),
    "RGBA": ("PNG", "WEBP"),
    "I;16": ("PNG",),
    "P": ("PNG", "GIF", "BMP"),
}
LARGEST_SIDE = 4096  # the handler's limit is 4096 × 4096 pixels


def picture_size(rng, index, count) -> int:
    """The long side of picture `index` of `count`: two at LARGEST_SIDE, a few large, mostly small."""
    if index < 2:
        return LARGEST_SIDE
    share = rng.random()
    if share < 0.01:
        return int(rng.integers(1025, 3000))
    if share < 0.2:
        return int(rng.integers(65, 400))
    return int(rng.integers(8, 65))


# Pages larger than this are drawn at this size and enlarged (NEAREST): drawing
# and adding noise at 4096 px would cost seconds, and decoding is what they test.
DRAWN_SIDE = 1024


def drawn_page(rng, side: int) -> tuple:
    """→ (a page `side` px on its long side, uint8, with one digit drawn off-centre, its polarity):
    dark ink on light paper or light on dark, at any ink and paper level, sometimes noisy or
    unevenly lit."""
    height = side
    width = max(8, min(LARGEST_SIDE, int(side * rng.uniform(0.6, 1.4))))
    if rng.random() < 0.5:
        height, width = width, height
    shrink = max(1, -(-max(height, width) // DRAWN_SIDE))
    drawn_height, drawn_width = max(8, height // shrink), max(8, width // shrink)
    digit_side = max(8, int(min(drawn_height, drawn_width) * rng.uniform(0.4, 0.95)))
    stroke = np.asarray(draw_digit(str(rng.integers(10)), size=digit_side,
                                   pen=rng.uniform(0.05, 0.15)), dtype=np.float32) / 255.0
    paper_level, ink_level = rng.uniform(140, 255), rng.uniform(0, 110)
    polarity = "dark on light"
    if rng.random() < 0.4:
        paper_level, ink_level, polarity = 255 - paper_level, 255 - ink_level, "light on dark"
    page = np.full((drawn_height, drawn_width), paper_level, dtype=np.float32)
    top = int(rng.integers(0, drawn_height - digit_side + 1))
    left = int(rng.integers(0, drawn_width - digit_side + 1))
    page[top:top + digit_side, left:left + digit_side] = ink_level + stroke * (paper_level - ink_level)
    if rng.random() < 0.2:  # light falling off across the page
        page *= np.linspace(1.0, rng.uniform(0.6, 1.0), drawn_width, dtype=np.float32)[None, :]
    if rng.random() < 0.5 and shrink == 1:  # (enlarged noise is blotches, slow to encode)
        page += rng.normal(0.0, rng.uniform(1.0, 25.0), page.shape).astype(np.float32)
    picture = Image.fromarray(np.round(np.clip(page, 0, 255)).astype(np.uint8))
    if shrink > 1:
        picture = picture.resize((width, height), Image.Resampling.NEAREST)
    return picture, polarity


def blank_page(rng, side: int) -> Image.Image:
    """A page with no digit: paper and faint noise (the handler refuses it)."""
    page = np.full((side, side), rng.uniform(0, 255), dtype=np.float32)
    page = np.clip(page + rng.normal(0.0, 2.0, page.shape), 0, 255)
    return Image.fromarray(np.round(page).astype(np.uint8))


def dressed(rng, gray: Image.Image, mode: str) -> Image.Image:
    """An 8-bit gray page → a picture in `mode`: tinted colour, transparent strokes, 16 bits, …"""
    if mode == "RGB":
        tint = rng.uniform(0.5, 1.0, 3)
        return Image.merge("RGB", [gray.point([int(v * t) for v in range(256)]) for t in tint])
    if mode == "RGBA":
        picture = gray.convert("RGBA")
        if rng.random() < 0.5:  # strokes on a transparent canvas: opacity is the ink
            light_paper = np.asarray(gray).mean() > 127
            picture.putalpha(Image.eval(gray, lambda v: 255 - v) if light_paper else gray)
        return picture
    if mode == "I;16":
        return Image.fromarray(np.asarray(gray).astype(np.uint16) * 257)
    if mode == "P":
        return gray.convert("RGB").convert("P")
    return gray


def picture_corpus(count=2000, seed=0) -> list:
    """→ `count` (what it is, file bytes) pairs, drawn from `seed` ("17: light on dark, 40x52 RGB
    JPEG"): digits of every size from 8 px
    to 4096 px, in modes L, RGB, RGBA, I;16 and P, as PNG, JPEG, BMP, GIF and WebP, and a few
    blank pages."""
    rng = np.random.default_rng(seed)
    pictures = []
    for index in range(count):
        side = picture_size(rng, index, count)
        blank = index >= 2 and rng.random() < 0.02
        page, what = (blank_page(rng, min(side, 256)), "blank") if blank else drawn_page(rng, side)
        # Large pictures as 8-bit gray PNG or JPEG: large colour or BMP files only cost time.
        large = side > DRAWN_SIDE
        mode = "L" if large else str(rng.choice(list(FORMATS_OF_MODE)))
        image_format = ("PNG", "JPEG")[index % 2] if large else str(
            rng.choice(FORMATS_OF_MODE[mode]))
        # Quick encoder settings: the files need only be valid, not small.
        options = {"quality": int(rng.integers(60, 96))} if image_format in ("JPEG", "WEBP") else {}
        options.update({"PNG": {"compress_level": 1}, "WEBP": {"method": 0}}.get(image_format, {}))
        picture = dressed(rng, page, mode)
        what = f"{index}: {what}, {picture.size[0]}x{picture.size[1]} {mode} {image_format}"
        pictures.append((what, encode(picture, image_format, **options)))
    return pictures
