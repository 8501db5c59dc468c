"""Pictures for models that classify them (tools.new_family's image kind): bytes → upright Pillow
image → a square of RGB values, the same way in training and serving."""

import io
import warnings

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import nn

FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")
# 4096 × 4096: a 16-megapixel phone photo fits; larger is refused before any pixel is decoded,
# which also stops decompression bombs.
MAX_PIXELS = 4096 * 4096


class PictureError(ValueError):
    """Bytes that are no picture this code reads; `reason` says why, in handlers.metrics' words."""

    def __init__(self, message, reason):
        super().__init__(message)
        self.reason = reason


def open_picture(data: bytes, jpeg_draft=None) -> Image.Image:
    """Picture file bytes → the decoded picture, turned upright by its EXIF orientation.

    jpeg_draft, a (mode, (width, height)): a JPEG is decoded at reduced scale (DCT scaling) down
    to at least that size, for a model that reads far less detail, at a fraction of the time."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PictureError(f"image has too many pixels; the limit is {MAX_PIXELS:,}",
                           "too_large") from None
    except UnidentifiedImageError:
        raise PictureError("body is not a PNG, JPEG, BMP, GIF or WebP image",
                           "unsupported_format") from None
    except Exception as error:  # Pillow raises many types for broken headers
        raise PictureError(f"image header is corrupt: {error}", "undecodable") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise PictureError(f"image is {width}x{height} = {width * height:,} pixels; "
                           f"the limit is {MAX_PIXELS:,}", "too_large")
    if width == 0 or height == 0:
        raise PictureError("image has no pixels", "empty_body")
    if jpeg_draft and image.format == "JPEG":
        image.draft(*jpeg_draft)
    try:
        image.load()
        # Phone photos store their rotation in EXIF; turn the pixels upright (in place: a copy
        # of every upright picture would cost more than its decoding).
        ImageOps.exif_transpose(image, in_place=True)
        return image
    except Exception as error:  # truncated or corrupt pixel data
        raise PictureError(f"image is truncated or corrupt: {error}", "undecodable") from None


def on_white(image: Image.Image) -> Image.Image:
    """Any picture mode → RGB, transparent parts on white paper."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit or float greyscale
        values = np.asarray(image, dtype=np.float64)
        top = values.max() or 1.0
        return Image.fromarray((values / top * 255).round().astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


def prepare_picture(image: Image.Image, size: int) -> np.ndarray:
    """A picture → [3, size, size] float32 RGB on 0–1: the whole picture, shrunk to fit a square
    and padded with the colour of its border, so nothing near an edge is cut off."""
    rgb = on_white(image)
    pixels = np.asarray(rgb)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    paper = tuple(int(v) for v in np.median(border, axis=0))
    # Halve big pictures cheaply first (box filter); the last resize picks the exact size.
    factor = max(1, min(rgb.size) // (4 * size))
    if factor > 1:
        rgb = rgb.reduce(factor)
    square = ImageOps.pad(rgb, (size, size), method=Image.Resampling.BOX, color=paper)
    return (np.asarray(square, dtype=np.float32) / 255.0).transpose(2, 0, 1).copy()


class ChannelNormalize(nn.Module):
    """[N, 3, H, W] on 0–1 → (x − mean) / std per channel, with the training split's statistics."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor([float(m) for m in mean]).view(-1, 1, 1))
        # A channel that never varies has std 0: divide by 1 instead.
        self.register_buffer("std", torch.tensor([float(s) if s > 0 else 1.0 for s in std]).view(-1, 1, 1))

    def forward(self, pixels):
        return (pixels - self.mean) / self.std


def convolutions(channels: int, out: int) -> nn.Sequential:
    """A 3×3 convolution with batch norm and ReLU, then 2×2 max pooling: half the size, `out` maps."""
    return nn.Sequential(nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                         nn.ReLU(), nn.MaxPool2d(2))

