"""Pictures of digits for tests: hand-drawn strokes, and load_digits images in real-world dress."""

import io

import numpy as np
from PIL import Image, ImageDraw

from models.digits_cnn import digits_to_image

# Each digit as pen strokes in a unit box (x right, y down), drawn the way a
# person writes them; none of these comes from the training data.
STROKES = {
    "0": [("ellipse", (0.2, 0.05, 0.8, 0.95))],
    "1": [("line", [(0.35, 0.25), (0.55, 0.05), (0.55, 0.95)])],
    "2": [("line", [(0.2, 0.25), (0.35, 0.08), (0.6, 0.05), (0.78, 0.2), (0.75, 0.42),
                    (0.2, 0.95), (0.82, 0.95)])],
    "3": [("line", [(0.2, 0.1), (0.75, 0.1), (0.45, 0.45), (0.7, 0.55), (0.78, 0.75),
                    (0.6, 0.93), (0.2, 0.9)])],
    "4": [("line", [(0.65, 0.95), (0.65, 0.05), (0.15, 0.65), (0.85, 0.65)])],
    "5": [("line", [(0.78, 0.07), (0.28, 0.07), (0.25, 0.45), (0.6, 0.42), (0.78, 0.6),
                    (0.72, 0.88), (0.45, 0.95), (0.2, 0.85)])],
    "6": [("line", [(0.7, 0.08), (0.4, 0.25), (0.25, 0.6), (0.3, 0.88), (0.55, 0.95),
                    (0.75, 0.8), (0.7, 0.58), (0.45, 0.52), (0.27, 0.65)])],
    "7": [("line", [(0.15, 0.08), (0.85, 0.08), (0.4, 0.95)])],
    "8": [("ellipse", (0.27, 0.05, 0.73, 0.48)), ("ellipse", (0.22, 0.48, 0.78, 0.95))],
    "9": [("ellipse", (0.25, 0.05, 0.75, 0.5)), ("line", [(0.75, 0.27), (0.72, 0.6), (0.6, 0.95)])],
}


def draw_digit(digit, size=96, pen=0.09, dark_on_light=True) -> Image.Image:
    """A digit drawn with a pen `pen` × size wide on a size × size grayscale canvas."""
    paper, ink = (255, 0) if dark_on_light else (0, 255)
    image = Image.new("L", (size, size), paper)
    canvas = ImageDraw.Draw(image)
    margin, scale, width = size * 0.1, size * 0.8, max(1, round(size * pen))
    for kind, points in STROKES[digit]:
        if kind == "line":
            canvas.line([(margin + x * scale, margin + y * scale) for x, y in points],
                        fill=ink, width=width, joint="curve")
        else:
            x0, y0, x1, y1 = points
            canvas.ellipse((margin + x0 * scale, margin + y0 * scale,
                            margin + x1 * scale, margin + y1 * scale), outline=ink, width=width)
    return image


def encode(image: Image.Image, image_format="PNG", **options) -> bytes:
    """Pillow image → file bytes in `image_format`."""
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def scanned(pixels: np.ndarray, scale=12, margin=(30, 10, 5, 40)) -> Image.Image:
    """load_digits [8, 8] → a large, off-centre picture with dark ink on light paper."""
    small = digits_to_image(pixels)
    big = small.resize((8 * scale, 8 * scale), Image.Resampling.NEAREST)
    left, top, right, bottom = margin
    paper = Image.new("L", (8 * scale + left + right, 8 * scale + top + bottom), 0)
    paper.paste(big, (left, top))
    return Image.eval(paper, lambda v: 255 - v)


def on_transparent(image: Image.Image, colour=(20, 40, 160)) -> Image.Image:
    """Dark-on-light grayscale → coloured strokes on a fully transparent RGBA canvas."""
    ink = Image.eval(image.convert("L"), lambda v: 255 - v)
    rgba = Image.new("RGBA", image.size, colour + (0,))
    rgba.putalpha(ink)
    return rgba
