"""digits_cnn's image decoding, preprocessing and postprocessing as they were before issue 15,
frozen: the "before" side of bench.handler_speed, and the reference that
tests/test_digits_cnn_preprocessing_reference.py holds models.digits_cnn.prepare_digit_images to.

The functions below are verbatim copies of the old code, kept on purpose; the constants and
BlankImage are shared with models.digits_cnn, so a change of the definition (a threshold, the
canvas size) reaches both sides.
"""

import io
import warnings

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from bench.handlers_before.pipeline import PipelineBefore, json_value
from handlers.digits_cnn import JPEG_DRAFT, TOP_K, USAGE, DigitsCNNHandler
from handlers.images import image_bytes_from_json
from handlers.messages import InvalidInput, Request, as_bytes, is_json
from models.digits_cnn import (CANVAS_SIZE, IMAGE_SIZE, INK_THRESHOLD, MAX_INK, MAX_LIGHT_SHIFT,
                               MIN_CONTRAST, MIN_GRADIENT_SIDE, WORKING_SIZE, BlankImage)
from models.images import FORMATS as IMAGE_FORMATS
from models.images import MAX_PIXELS as MAX_IMAGE_PIXELS

JPEG_DRAFT_SIZE = JPEG_DRAFT[1][0]


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


def open_image(data: bytes) -> Image.Image:
    """Image file bytes → a fully decoded Pillow image; raises InvalidInput for anything else."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(f"image has too many pixels; the limit is {MAX_IMAGE_PIXELS:,}",
                           reason="too_large") from None
    except UnidentifiedImageError:
        raise InvalidInput("body is not a PNG, JPEG, BMP, GIF or WebP image; " + USAGE,
                           reason="unsupported_format") from None
    except Exception as error:  # Pillow raises many types for broken headers
        raise InvalidInput(f"image header is corrupt: {error}", reason="undecodable") from None

    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise InvalidInput(f"image is {width}x{height} = {width * height:,} pixels; "
                           f"the limit is {MAX_IMAGE_PIXELS:,}", reason="too_large")
    if width == 0 or height == 0:
        raise InvalidInput("image has no pixels", reason="empty_body")
    if image.format == "JPEG":
        image.draft("L", (JPEG_DRAFT_SIZE, JPEG_DRAFT_SIZE))
    try:
        image.load()
        # Phone photos store their rotation in EXIF; turn the pixels upright.
        return ImageOps.exif_transpose(image)
    except Exception as error:  # truncated or corrupt pixel data
        raise InvalidInput(f"image is truncated or corrupt: {error}", reason="undecodable") from None


class DigitsCNNHandlerBefore(PipelineBefore, DigitsCNNHandler):
    """The digits_cnn handler with its decode, preprocess and postprocess steps as they were: one
    request at a time, through the shared pipeline as it was."""

    def decode(self, request: Request) -> Image.Image:
        """Raw image body, or JSON {"image": base64} → decoded Pillow image."""
        if not request.parsed and not request.body:
            raise InvalidInput("empty request body; " + USAGE, reason="empty_body")
        if is_json(request):
            return open_image(image_bytes_from_json(json_value(request)))
        return open_image(as_bytes(request.body))

    def preprocess(self, image: Image.Image):
        """Pillow image → [1, 1, 8, 8] ink on 0–16, through the same function training used."""
        try:
            pixels = prepare_digit_image(image)
        except BlankImage as error:
            raise InvalidInput(str(error), reason="blank_image") from None
        except ValueError as error:  # a pixel mode it cannot read
            raise InvalidInput(str(error), reason="unsupported_format") from None
        return torch.from_numpy(pixels)[None, None]

    def postprocess(self, image, logits: torch.Tensor) -> dict:
        """[1, 10] logits → {"label", "probability", "top_k": [3 × {"label", "probability"}]}."""
        probabilities = torch.softmax(logits[0].float(), dim=0)
        top = torch.topk(probabilities, TOP_K)
        top_k = [{"label": self.labels[i], "probability": round(float(p), 4)}
                 for p, i in zip(top.values.tolist(), top.indices.tolist())]
        return {"label": top_k[0]["label"], "probability": top_k[0]["probability"], "top_k": top_k}


HANDLER = DigitsCNNHandlerBefore  # what bench.handler_speed times as digits_cnn's "before"
