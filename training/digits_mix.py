"""digits_cnn's training mix beyond load_digits: MNIST, stroke-drawn styles, training fonts, photo-like copies.

Every picture goes through `prepare_digit_image`, as served pictures do. Each
source is split into training and validation parts by the seed; nothing here
touches the evaluation sets (training.digits_evaluation): the MNIST hold-out is
excluded, and only training fonts are rendered.
"""

import io

import numpy as np
import torch
from PIL import Image, ImageFilter

from models.digits_cnn import BlankImage, prepare_digit_image
from training.digits_sources import fonts_for, mnist_digits, mnist_holdout_mask
from training.digits_strokes import random_stroke_digit
from training.digits_typed import typed_digit

STROKE_PICTURES = 4000  # stroke-drawn training digits, balanced over classes
TYPED_PER_FONT_DIGIT = 12  # renderings of each digit in each training font
PHOTO_LIKE = 2000  # photo-like copies of stroke and typed pictures
VALIDATION_SHARE = 0.15


def _prepare(pictures, labels):
    """Pillow pictures and labels → (pixels [N, 1, 8, 8], labels [N]) through the serving
    preprocessing; a picture it refuses as blank (a faint, blurred photo) is left out."""
    kept_pixels, kept_labels = [], []
    for picture, label in zip(pictures, labels):
        try:
            kept_pixels.append(prepare_digit_image(picture))
        except BlankImage:
            continue
        kept_labels.append(int(label))
    return torch.from_numpy(np.stack(kept_pixels)).unsqueeze(1), np.array(kept_labels)


def random_typed_digit(digit: str, font: str, rng: np.random.Generator) -> Image.Image:
    """A digit in a training font at a random screen size, colours and padding → RGB picture."""
    text_px = int(rng.choice([9, 10, 12, 13, 16, 20, 24, 30, 40, 56, 72]))
    shade = int(rng.integers(0, 90))
    ink, paper = (shade, shade, shade), tuple(int(v) for v in rng.integers(200, 256, 3))
    if rng.random() < 0.4:  # dark themes
        ink, paper = tuple(int(v) for v in rng.integers(180, 256, 3)), (shade // 2,) * 3
    elif rng.random() < 0.3:  # coloured ink
        ink = tuple(int(v) for v in rng.integers(0, 140, 3))
    pad = tuple(int(v) for v in rng.integers(1, max(3, text_px // 2), 4))
    return typed_digit(digit, font, text_px, ink, paper, pad)


def photo_like(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A picture → a grayscale copy as a camera might take it: on a wider page, shaded, blurred, noisy, JPEG."""
    gray = picture.convert("L")
    border = np.concatenate([np.asarray(gray)[0], np.asarray(gray)[-1]])
    if np.median(border) < 128:  # photos are of dark ink on light paper
        gray = Image.eval(gray, lambda v: 255 - v)
    w, h = gray.size
    grow = rng.uniform(1.0, 2.2, 2)
    page = Image.new("L", (int(w * grow[0]) + 2, int(h * grow[1]) + 2), 255)
    page.paste(gray, (int(rng.integers(0, page.size[0] - w + 1)),
                      int(rng.integers(0, page.size[1] - h + 1))))
    values = np.asarray(page, dtype=np.float32) / 255.0
    low, high = rng.uniform(0, 90), rng.uniform(170, 250)
    values = low + (high - low) * values
    # A soft bright spot somewhere: light from a lamp or a window.
    yy, xx = np.mgrid[0:values.shape[0], 0:values.shape[1]].astype(np.float32)
    cy, cx = rng.uniform(0, values.shape[0]), rng.uniform(0, values.shape[1])
    reach = max(values.shape) * rng.uniform(0.6, 1.5)
    values *= 1.0 - rng.uniform(0.0, 0.35) * np.minimum(1.0, np.hypot(yy - cy, xx - cx) / reach)
    values += rng.normal(0, rng.uniform(0, 8), values.shape)
    shot = Image.fromarray(np.clip(values, 0, 255).astype(np.uint8))
    shot = shot.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2) * max(w, h) / 150))
    buffer = io.BytesIO()
    shot.save(buffer, format="JPEG", quality=int(rng.integers(35, 90)))
    return Image.open(io.BytesIO(buffer.getvalue()))


def _train_val(prepared, rng):
    """(pixels, labels) → ((train x, y), (validation x, y)) split at random by rng."""
    pixels, labels = prepared
    order = rng.permutation(len(labels))
    cut = int(round(len(labels) * VALIDATION_SHARE))
    val, train = order[:cut], order[cut:]
    labels = torch.as_tensor(labels, dtype=torch.int64)
    return (pixels[train], labels[train]), (pixels[val], labels[val])


def mix_sources(seed: int, share=1.0, log=print) -> dict:
    """Seed (and share of the full sizes, for quick runs) → {source: ((train x, y), (val x, y))}, pixels [N, 1, 8, 8]."""
    rng = np.random.default_rng(seed)
    sources = {}

    images, labels = mnist_digits()
    keep = np.flatnonzero(~mnist_holdout_mask(labels))
    keep = rng.permutation(keep)[:int(len(keep) * share)]
    sources["mnist"] = _train_val(_prepare((Image.fromarray(images[i]) for i in keep),
                                           labels[keep]), rng)

    stroke_labels = np.arange(int(STROKE_PICTURES * share)) % 10
    strokes = [random_stroke_digit(str(d), rng) for d in stroke_labels]
    sources["strokes"] = _train_val(_prepare(strokes, stroke_labels), rng)

    typed, typed_labels = [], []
    for font in fonts_for("train"):
        for digit in range(10):
            for _ in range(max(1, int(TYPED_PER_FONT_DIGIT * share))):
                typed.append(random_typed_digit(str(digit), font, rng))
                typed_labels.append(digit)
    sources["typed"] = _train_val(_prepare(typed, typed_labels), rng)

    pool = strokes + typed
    pool_labels = np.concatenate([stroke_labels, typed_labels])
    chosen = rng.choice(len(pool), int(PHOTO_LIKE * share), replace=False)
    sources["photo_like"] = _train_val(_prepare((photo_like(pool[i], rng) for i in chosen),
                                                pool_labels[chosen]), rng)
    for name, ((train_x, _), (val_x, _)) in sources.items():
        log(f"source {name}: {len(train_x)} train, {len(val_x)} validation")
    return sources
