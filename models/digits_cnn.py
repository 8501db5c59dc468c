"""digits_cnn: a small CNN that reads one handwritten digit.

The single source of truth for the family: training imports it, every
`.mar` ships it, and the handler prepares its batches with the same
`prepare_digit_images` that training and evaluation call (one picture at a
time, through `prepare_digit_image`), so the served model cannot drift from
the trained one.
"""

import collections
import functools

import numpy as np
import torch
from PIL import Image
from torch import nn

from models import pillow_resize

LABELS = tuple(str(d) for d in range(10))
IMAGE_SIZE = 8  # load_digits images are 8×8
MAX_INK = 16.0  # load_digits counts set pixels in 4×4 blocks: 0 (paper) to 16 (solid ink)

# A pixel belongs to the digit's bounding box when its ink reaches this share
# of the darkest stroke; lower lets paper texture and JPEG noise widen the box.
INK_THRESHOLD = 0.25
# Below this contrast (on a 0–255 scale) the picture holds no digit, only noise.
MIN_CONTRAST = 32.0
# The digit is centred on a canvas this fine before averaging down to 8×8.
CANVAS_SIZE = IMAGE_SIZE * 8


class DigitsCNN(nn.Module):
    """[N, 1, 8, 8] ink 0–16 → [N, 10] class logits."""

    def __init__(self, pixel_mean, pixel_std, channels=(32, 64), hidden=128, dropout=0.25,
                 num_classes=len(LABELS)):
        super().__init__()
        # Normalization lives in the model so no caller can forget it; the
        # statistics come from the training split and travel in model_args.
        self.register_buffer("pixel_mean", torch.tensor(float(pixel_mean)))
        self.register_buffer("pixel_std", torch.tensor(float(pixel_std)))
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ReLU(),
            nn.MaxPool2d(2),  # 8×8 → 4×4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c2 * (IMAGE_SIZE // 2) ** 2, hidden), nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, pixels):
        x = (pixels - self.pixel_mean) / self.pixel_std
        return self.classifier(self.features(x))


ARCHITECTURE = DigitsCNN  # what models.checkpoint builds for a digits_cnn checkpoint


# Larger pictures are box-averaged down to about this size first: far more
# detail than an 8×8 result needs, and it bounds the work per image.
WORKING_SIZE = 256


def _working_image(image: Image.Image) -> Image.Image:
    """Any Pillow image → mode L, LA, RGB, RGBA, I or F, box-averaged to about WORKING_SIZE."""
    if image.mode in ("P", "PA"):
        has_alpha = image.mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif image.mode.startswith("I;16"):
        image = image.convert("I")
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
        try:
            image = image.convert("RGB")
        except ValueError:
            raise ValueError(f"unsupported image mode {image.mode}") from None
    factor = max(image.size) // WORKING_SIZE
    return image.reduce(factor) if factor >= 2 else image


def _levels(image: Image.Image) -> np.ndarray:
    """An 8-bit, one-band Pillow image → its pixels, uint8 [H, W] (read-only; quicker than
    np.asarray, which goes through the array interface)."""
    return np.frombuffer(image.tobytes(), dtype=np.uint8).reshape(image.height, image.width)


def _grayscale(image: Image.Image) -> np.ndarray:
    """Working image → [H, W] luminance on 0–255, transparency flattened: uint8 when every pixel
    is a whole gray level (opaque 8-bit pictures, most of them), else float32."""
    if image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float32)
        peak = float(values.max())
        # 16- and 32-bit pictures: bring them onto the 0–255 scale of the rest.
        if peak > 255.0:
            values = values * (255.0 / (65535.0 if peak <= 65535.0 else peak))
        return np.clip(values, 0.0, 255.0)
    if image.mode not in ("LA", "RGBA"):
        return _levels(image if image.mode == "L" else image.convert("L"))

    luminance = _levels(image.convert("L"))
    opacity_levels = _levels(image.getchannel("A"))
    if opacity_levels.min() == 255:
        return luminance
    luminance = luminance.astype(np.float32)
    alpha = opacity_levels.astype(np.float32) / 255.0
    # A digit drawn on a transparent canvas: the opaque strokes are the ink,
    # whatever their colour, so lay them on paper of the opposite brightness.
    opacity = alpha.sum()
    stroke = float((luminance * alpha).sum() / opacity) if opacity > 0 else 0.0
    paper = 255.0 if stroke < 128.0 else 0.0
    return luminance * alpha + paper * (1.0 - alpha)


def _medians(rows: np.ndarray) -> np.ndarray:
    """Values [n, length] (uint8 or float32) → float64 [n]: the median of each row, the value
    np.median gives (the two middle values averaged in float32), without np.median's checks,
    which cost more than the median of a picture's border."""
    middle = rows.shape[1] // 2
    if rows.shape[1] % 2:
        return np.partition(rows, middle, axis=1)[:, middle].astype(np.float64)
    pairs = np.partition(rows, (middle - 1, middle), axis=1)[:, middle - 1:middle + 1]
    pairs = pairs.astype(np.float32)
    return ((pairs[:, 0] + pairs[:, 1]) / np.float32(2)).astype(np.float64)


# Pictures at least this many pixels on each side get their paper's light
# gradient estimated; smaller ones are too coarse for a side to be all paper.
MIN_GRADIENT_SIDE = 16
# A side whose median is this share of the picture's contrast away from the
# border's median holds ink, not dimmer light, and tells nothing of the gradient.
MAX_LIGHT_SHIFT = 0.35


def _paper_levels(stack: np.ndarray, contrast: np.ndarray) -> tuple:
    """Luminance [N, H, W] of pictures of one size and their contrasts [N] → (paper, top, bottom,
    left, right), each [N]: the border's median, and the light level along each side.

    A photo lit from one side has paper darker on the far side; the medians of
    the four sides give that gradient, so the shade is not read as ink. A side
    that holds ink, or a picture too small for a side to be all paper, has the
    border's level.
    """
    across, down = stack[:, [0, -1]], stack[:, :, [0, -1]].transpose(0, 2, 1)
    paper = _medians(np.concatenate((across, down), axis=2).reshape(len(stack), -1))
    if min(stack.shape[1:]) < MIN_GRADIENT_SIDE:
        return (paper,) * 5
    sides = np.concatenate((_medians(across.reshape(-1, across.shape[2])).reshape(-1, 2),
                            _medians(down.reshape(-1, down.shape[2])).reshape(-1, 2)), axis=1)
    shifted = np.abs(sides - paper[:, None]) > MAX_LIGHT_SHIFT * contrast[:, None]
    return (paper, *np.where(shifted, paper[:, None], sides).T)


@functools.lru_cache(maxsize=64)
def _light_axes(height: int, width: int) -> tuple:
    """A picture's size → (rows [H, 1], columns [1, W]): positions from -0.5 to 0.5, float32."""
    rows = np.linspace(-0.5, 0.5, height, dtype=np.float32)[:, None]
    cols = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :]
    rows.flags.writeable = cols.flags.writeable = False  # shared by every picture of this size
    return rows, cols


@functools.lru_cache(maxsize=4096)
def _mean_of_even_paper(paper: float, height: int, width: int) -> float:
    """An evenly lit paper's level and the picture's size → the mean of that paper as float32
    sums give it over height × width pixels (it can differ from the level in its last bits)."""
    return float(np.full((height, width), paper, dtype=np.float32).mean())


def _ink(gray, paper, paper_mean, dark_ink: bool) -> np.ndarray:
    """Luminance (float32), the paper under it and the paper's mean (floats, or float32 arrays
    broadcasting with the luminance) → ink strength ≥ 0, float32."""
    if dark_ink:
        # Dim light darkens ink and paper alike: measure ink against the paper
        # around it, so a stroke on the shaded side counts as much as one in the light.
        return np.clip((paper - gray) * (paper_mean / np.maximum(paper, 1.0)), 0.0, None)
    return np.clip(gray - paper, 0.0, None)


class BlankImage(ValueError):
    """A picture with no visible digit in it: too little contrast to find any ink."""


NO_DIGIT = "the image holds no visible digit: it has almost no contrast"


def _ink_crop(gray: np.ndarray) -> np.ndarray:
    """Luminance [H, W] of one picture → its ink, float32, inside the bounding box of the pixels
    with at least INK_THRESHOLD of the strongest ink; raises BlankImage when it holds no visible
    digit."""
    lowest, highest = float(gray.min()), float(gray.max())
    paper, top, bottom, left, right = (float(level[0]) for level in _paper_levels(
        gray[None], np.array([highest - lowest])))
    rows, cols = _light_axes(*gray.shape)
    paper = (paper + (bottom - top) * rows + (right - left) * cols).astype(np.float32)
    paper_mean = float(paper.mean())
    # Paper brighter than the middle of the range means dark ink on light paper.
    dark_ink = paper_mean > (lowest + highest) / 2.0
    ink = _ink(gray.astype(np.float32), paper, paper_mean, dark_ink)
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise BlankImage(NO_DIGIT)
    inked = ink >= INK_THRESHOLD * peak
    rows, cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


# Every gray level of an 8-bit picture, as float32.
GRAY_LEVELS = np.arange(256, dtype=np.float32)


def _ink_crops_of_8_bit(stack: np.ndarray) -> list:
    """8-bit luminance [N, H, W] of pictures of one size → for each, what _ink_crop gives (its ink
    crop, or a BlankImage), or None when its paper is unevenly lit (left to _ink_crop).

    All in a few array operations for the whole stack: on evenly lit paper a
    pixel's ink depends on its gray level alone, so it is computed for the 256
    levels, not per pixel; and it is monotonic in the level (darker is more
    ink, or lighter is), so a picture's strongest ink is at its darkest or
    lightest pixel, and its inked pixels are those up to (or from) one level.
    """
    count, height, width = stack.shape
    lowest, highest = stack.min(axis=(1, 2)), stack.max(axis=(1, 2))
    low, high = lowest.astype(np.float64), highest.astype(np.float64)
    paper, top, bottom, left, right = _paper_levels(stack, high - low)
    even = (top == bottom) & (left == right)  # else the paper is a tilted plane
    paper_mean = np.array([_mean_of_even_paper(level, height, width) for level in paper])
    dark_ink = paper_mean > (low + high) / 2.0
    # float32 like the paper and its mean of one picture, so the arithmetic is _ink_crop's.
    level_paper, level_mean = paper.astype(np.float32)[:, None], paper_mean.astype(np.float32)[:, None]
    ink_of_level = np.where(dark_ink[:, None], _ink(GRAY_LEVELS, level_paper, level_mean, True),
                            _ink(GRAY_LEVELS, level_paper, level_mean, False))
    pictures = np.arange(count)
    peak = np.maximum(ink_of_level[pictures, lowest], ink_of_level[pictures, highest])
    visible = even & (peak >= MIN_CONTRAST)
    threshold = (INK_THRESHOLD * peak.astype(np.float64)).astype(np.float32)
    inked_levels = np.count_nonzero(ink_of_level >= threshold[:, None], axis=1)
    # Dark ink: levels 0 … inked_levels - 1 are inked; light ink: the top inked_levels. Counted
    # from the first inked level, modulo 256, the inked ones are those below inked_levels.
    first = np.where(dark_ink, 0, 256 - inked_levels).astype(np.uint8)
    above_first = np.subtract(stack, first[:, None, None], dtype=np.uint8)
    inked = above_first <= (np.maximum(inked_levels, 1) - 1).astype(np.uint8)[:, None, None]
    rows, cols = inked.any(axis=2), inked.any(axis=1)
    boxes = zip(rows.argmax(axis=1).tolist(), (height - rows[:, ::-1].argmax(axis=1)).tolist(),
                cols.argmax(axis=1).tolist(), (width - cols[:, ::-1].argmax(axis=1)).tolist())
    return [None if not is_even else BlankImage(NO_DIGIT) if not is_visible
            else levels.take(gray[top:bottom, left:right])
            for is_even, is_visible, levels, gray, (top, bottom, left, right)
            in zip(even.tolist(), visible.tolist(), ink_of_level, stack, boxes)]


def _ink_crops(pictures: list) -> list:
    """Pictures → for each, its ink crop (what _ink_crop gives) or the ValueError refusing it;
    8-bit pictures of one size found together."""
    crops, grays = [None] * len(pictures), {}
    for index, picture in enumerate(pictures):
        try:
            grays[index] = _grayscale(_working_image(picture))
        except ValueError as error:  # a pixel mode it cannot read
            crops[index] = error
    same_size = collections.defaultdict(list)
    for index, gray in grays.items():
        if gray.dtype == np.uint8:
            same_size[gray.shape].append(index)
    for indices in same_size.values():
        for index, crop in zip(indices, _ink_crops_of_8_bit(np.stack([grays[i] for i in indices]))):
            crops[index] = crop
    for index, gray in grays.items():
        if crops[index] is None:  # not 8-bit, or unevenly lit
            try:
                crops[index] = _ink_crop(gray)
            except BlankImage as error:
                crops[index] = error
    return crops


def _cells(crops: list) -> np.ndarray:
    """Ink crops (float32, any sizes) → [N, 8, 8] float32: each scaled to fill a CANVAS_SIZE²
    square (Pillow's NEAREST up, BOX down), centred, and box-averaged down to 8×8, as load_digits
    counted pixels per block; crops of one size scaled together.

    Working on a fine canvas makes the result independent of the picture's
    resolution: an 8×8 digit and a 96×96 scan of it centre identically, to
    a fraction of an output pixel.
    """
    canvases = np.zeros((len(crops), CANVAS_SIZE, CANVAS_SIZE), dtype=np.float32)
    same_size = collections.defaultdict(list)
    for position, crop in enumerate(crops):
        same_size[crop.shape].append(position)
    for (height, width), positions in same_size.items():
        scale = CANVAS_SIZE / max(height, width)
        fitted_height, fitted_width = max(1, round(height * scale)), max(1, round(width * scale))
        top, left = (CANVAS_SIZE - fitted_height) // 2, (CANVAS_SIZE - fitted_width) // 2
        canvases[positions, top:top + fitted_height, left:left + fitted_width] = pillow_resize.resize(
            np.stack([crops[p] for p in positions]), fitted_height, fitted_width)
    return pillow_resize.reduce(canvases, CANVAS_SIZE // IMAGE_SIZE)


# Pictures prepared together at most: the arrays of a larger pass outgrow what
# the allocator keeps for reuse, and every pass would then take fresh pages from
# the system (32 pictures of 96 px: ~500 page faults, costing as much as the
# arithmetic itself).
PICTURES_PER_PASS = 16


def prepare_digit_images(pictures) -> list:
    """Pictures of one digit each (any size, mode or polarity) → for each, float32 [8, 8] ink on
    0–16 as in load_digits, or the ValueError refusing it: a BlankImage when it holds no visible
    digit, a ValueError when its pixel mode cannot be read.

    Steps: shrink large pictures, grayscale, paper and ink polarity from the
    border (following a light gradient across the page), crop to the ink's
    bounding box, scale it into a centred square, average down to 8×8, scale
    the strongest cell to 16. Pictures share the work where their shapes
    allow: 8-bit ones of one size find their ink together, crops of one size
    are scaled together, and all are averaged down together.
    """
    results = []
    for start in range(0, len(pictures), PICTURES_PER_PASS):
        crops = _ink_crops(pictures[start:start + PICTURES_PER_PASS])
        prepared = [crop for crop in crops if not isinstance(crop, ValueError)]
        if prepared:
            cells = _cells(prepared)
            strongest = cells.max(axis=(1, 2)).astype(np.float64)
            scale = (MAX_INK / strongest).astype(np.float32)[:, None, None]
            pixels = iter(np.clip(cells * scale, 0.0, MAX_INK).astype(np.float32))
        results += [crop if isinstance(crop, ValueError) else next(pixels) for crop in crops]
    return results


def prepare_digit_image(image: Image.Image) -> np.ndarray:
    """A picture of one digit (any size, mode or polarity) → float32 [8, 8] ink on 0–16, as in
    load_digits (see prepare_digit_images). Raises BlankImage (a ValueError) when the picture
    holds no visible digit, ValueError when its pixel mode cannot be read."""
    [prepared] = prepare_digit_images([image])
    if isinstance(prepared, ValueError):
        raise prepared
    return prepared


def digits_to_image(pixels: np.ndarray) -> Image.Image:
    """load_digits values [8, 8] on 0–16 → an 8-bit grayscale picture, light ink on black."""
    return Image.fromarray(gray_levels(pixels))


def gray_levels(pixels: np.ndarray) -> np.ndarray:
    """load_digits values on 0–16 (any shape) → uint8 gray levels on 0–255, light ink on black."""
    values = np.clip(np.asarray(pixels, dtype=np.float32), 0.0, MAX_INK) * (255.0 / MAX_INK)
    return np.round(values).astype(np.uint8)
