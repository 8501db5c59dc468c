"""digits_cnn: a small CNN that reads one handwritten digit.

The single source of truth for the family: training imports it, every
`.mar` ships it, and the handler calls the same `prepare_digit_image` that
training and evaluation call, so the served model cannot drift from the
trained one.
"""

import numpy as np
import torch
from PIL import Image
from torch import nn

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


def _grayscale(image: Image.Image) -> np.ndarray:
    """Working image → float32 [H, W] luminance on 0–255, transparency flattened."""
    if image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float32)
        peak = float(values.max())
        # 16- and 32-bit pictures: bring them onto the 0–255 scale of the rest.
        if peak > 255.0:
            values = values * (255.0 / (65535.0 if peak <= 65535.0 else peak))
        return np.clip(values, 0.0, 255.0)
    if image.mode not in ("LA", "RGBA"):
        return np.asarray(image.convert("L"), dtype=np.float32)

    luminance = np.asarray(image.convert("L"), dtype=np.float32)
    alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
    if alpha.min() >= 1.0:
        return luminance
    # A digit drawn on a transparent canvas: the opaque strokes are the ink,
    # whatever their colour, so lay them on paper of the opposite brightness.
    opacity = alpha.sum()
    stroke = float((luminance * alpha).sum() / opacity) if opacity > 0 else 0.0
    paper = 255.0 if stroke < 128.0 else 0.0
    return luminance * alpha + paper * (1.0 - alpha)


# Pictures at least this many pixels on each side get their paper's light
# gradient estimated; smaller ones are too coarse for a side to be all paper.
MIN_GRADIENT_SIDE = 16
# A side whose median is this share of the picture's contrast away from the
# border's median holds ink, not dimmer light, and tells nothing of the gradient.
MAX_LIGHT_SHIFT = 0.35


def _paper(gray: np.ndarray) -> np.ndarray:
    """Luminance [H, W] → paper brightness [H, W]: the border's median, tilted to follow uneven light.

    A photo lit from one side has paper darker on the far side; the medians of
    the four sides give that gradient as a plane, so the shade is not read as ink.
    """
    sides = {"top": gray[0], "bottom": gray[-1], "left": gray[:, 0], "right": gray[:, -1]}
    paper = float(np.median(np.concatenate(list(sides.values()))))
    height, width = gray.shape
    if min(height, width) < MIN_GRADIENT_SIDE:
        return np.full(gray.shape, paper, dtype=np.float32)
    contrast = float(gray.max()) - float(gray.min())
    level = {}
    for name, values in sides.items():
        median = float(np.median(values))
        level[name] = median if abs(median - paper) <= MAX_LIGHT_SHIFT * contrast else paper
    rows = np.linspace(-0.5, 0.5, height, dtype=np.float32)[:, None]
    cols = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :]
    return (paper + (level["bottom"] - level["top"]) * rows
            + (level["right"] - level["left"]) * cols).astype(np.float32)


def _ink(gray: np.ndarray) -> np.ndarray:
    """Luminance [H, W] → ink strength [H, W] ≥ 0, whichever way round ink and paper are."""
    paper = _paper(gray)
    # Paper brighter than the middle of the range means dark ink on light paper.
    if float(paper.mean()) > (float(gray.min()) + float(gray.max())) / 2.0:
        # Dim light darkens ink and paper alike: measure ink against the paper
        # around it, so a stroke on the shaded side counts as much as one in the light.
        return np.clip((paper - gray) * (float(paper.mean()) / np.maximum(paper, 1.0)), 0.0, None)
    return np.clip(gray - paper, 0.0, None)


def _fit_to_canvas(digit: np.ndarray) -> np.ndarray:
    """Ink crop [h, w] → CANVAS_SIZE² with the crop scaled to fill it and centred.

    Working on a fine canvas makes the result independent of the picture's
    resolution: an 8×8 digit and a 96×96 scan of it centre identically, to
    a fraction of an output pixel.
    """
    height, width = digit.shape
    scale = CANVAS_SIZE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.NEAREST if scale > 1 else Image.Resampling.BOX
    fitted = np.asarray(Image.fromarray(np.ascontiguousarray(digit)).resize(size, resample),
                        dtype=np.float32)
    canvas = np.zeros((CANVAS_SIZE, CANVAS_SIZE), dtype=np.float32)
    top, left = (CANVAS_SIZE - size[1]) // 2, (CANVAS_SIZE - size[0]) // 2
    canvas[top:top + size[1], left:left + size[0]] = fitted
    return canvas


class BlankImage(ValueError):
    """A picture with no visible digit in it: too little contrast to find any ink."""


def prepare_digit_image(image: Image.Image) -> np.ndarray:
    """A picture of one digit (any size, mode or polarity) → float32 [8, 8] ink on 0–16, as in load_digits.

    Steps: shrink large pictures, grayscale, paper and ink polarity from the
    border (following a light gradient across the page), crop to the ink's bounding box, scale it into a centred square, average
    down to 8×8, scale the strongest cell to 16.
    Raises BlankImage (a ValueError) when the picture holds no visible digit, ValueError when
    its pixel mode cannot be read.
    """
    ink = _ink(_grayscale(_working_image(image)))
    peak = float(ink.max()) if ink.size else 0.0
    if peak < MIN_CONTRAST:
        raise BlankImage("the image holds no visible digit: it has almost no contrast")

    rows = np.flatnonzero((ink >= INK_THRESHOLD * peak).any(axis=1))
    cols = np.flatnonzero((ink >= INK_THRESHOLD * peak).any(axis=0))
    digit = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]

    # Box-average the canvas down to 8×8, as load_digits counted pixels per block.
    cells = np.asarray(Image.fromarray(_fit_to_canvas(digit)).reduce(CANVAS_SIZE // IMAGE_SIZE))
    strongest = float(cells.max())
    return np.clip(cells * (MAX_INK / strongest), 0.0, MAX_INK).astype(np.float32)


def digits_to_image(pixels: np.ndarray) -> Image.Image:
    """load_digits values [8, 8] on 0–16 → an 8-bit grayscale picture, light ink on black."""
    values = np.clip(np.asarray(pixels, dtype=np.float32), 0.0, MAX_INK) * (255.0 / MAX_INK)
    return Image.fromarray(np.round(values).astype(np.uint8))
