"""Training pictures of digits drawn with pen strokes in random styles, pens, slants and sizes.

Each digit has several styles people use (1 with or without flag and base, 7
with or without crossbar, open or closed 4, 9 with straight or curved stem, 2
with or without a loop, …). A style is a list of strokes, each a few control
points in a unit box (x right, y down) joined by a Catmull-Rom curve. Every
picture jitters the points, slants, rotates and stretches the digit, and draws
it with a random pen on a random canvas. Training data only: the evaluation
set (training.digits_evaluation) has its own drawings and its own drawing code.
"""

import math

import numpy as np
from PIL import Image, ImageDraw


def _arc(cx, cy, rx, ry, start, end, steps=12):
    """Points along an ellipse arc, angles in degrees clockwise from 3 o'clock (y down)."""
    angles = np.radians(np.linspace(start, end, steps))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


# digit → style name → strokes (each a list of (x, y) control points).
STYLES = {
    "0": {
        "oval": [_arc(0.5, 0.5, 0.3, 0.45, -90, 270, 16)],
        "round": [_arc(0.5, 0.5, 0.38, 0.42, -100, 265, 16)],
        "narrow_open": [_arc(0.5, 0.5, 0.22, 0.45, -80, 250, 14)],
    },
    "1": {
        "plain": [[(0.5, 0.05), (0.5, 0.95)]],
        "flag": [[(0.3, 0.25), (0.55, 0.05), (0.55, 0.95)]],
        "flag_base": [[(0.3, 0.25), (0.55, 0.05), (0.55, 0.95)], [(0.28, 0.95), (0.82, 0.95)]],
        "long_flag": [[(0.2, 0.35), (0.6, 0.05), (0.6, 0.95)]],
    },
    "2": {
        "plain": [[(0.2, 0.25), (0.35, 0.07), (0.62, 0.05), (0.78, 0.22), (0.72, 0.45),
                   (0.2, 0.93), (0.85, 0.93)]],
        "loop": [[(0.2, 0.25), (0.4, 0.05), (0.7, 0.1), (0.72, 0.38), (0.35, 0.8), (0.2, 0.92),
                  (0.3, 0.78), (0.5, 0.88), (0.85, 0.92)]],
        "straight": [[(0.2, 0.2), (0.5, 0.05), (0.8, 0.2), (0.2, 0.95), (0.85, 0.95)]],
    },
    "3": {
        "round": [[(0.2, 0.15), (0.45, 0.05), (0.72, 0.15), (0.72, 0.35), (0.45, 0.47),
                   (0.75, 0.6), (0.75, 0.85), (0.45, 0.95), (0.2, 0.85)]],
        "flat_top": [[(0.2, 0.07), (0.78, 0.07), (0.45, 0.42), (0.72, 0.55), (0.78, 0.78),
                      (0.55, 0.95), (0.2, 0.88)]],
    },
    "4": {
        "closed": [[(0.68, 0.95), (0.68, 0.05), (0.12, 0.65), (0.88, 0.65)]],
        "open": [[(0.3, 0.05), (0.18, 0.62), (0.88, 0.62)], [(0.66, 0.3), (0.66, 0.95)]],
        "open_tall": [[(0.25, 0.05), (0.25, 0.55), (0.85, 0.55)], [(0.7, 0.05), (0.7, 0.95)]],
    },
    "5": {
        "plain": [[(0.3, 0.07), (0.27, 0.45), (0.6, 0.4), (0.78, 0.6), (0.72, 0.86),
                   (0.45, 0.95), (0.2, 0.85)], [(0.3, 0.07), (0.8, 0.07)]],
        "one_stroke": [[(0.8, 0.06), (0.3, 0.06), (0.26, 0.45), (0.6, 0.4), (0.8, 0.62),
                        (0.7, 0.9), (0.4, 0.95), (0.2, 0.83)]],
    },
    "6": {
        "loop": [[(0.7, 0.07), (0.4, 0.25), (0.25, 0.6), (0.32, 0.9), (0.58, 0.95),
                  (0.75, 0.78), (0.68, 0.57), (0.42, 0.52), (0.26, 0.66)]],
        "straight_back": [[(0.65, 0.05), (0.3, 0.5), (0.27, 0.8), (0.5, 0.95), (0.75, 0.8),
                           (0.7, 0.58), (0.45, 0.52), (0.3, 0.62)]],
    },
    "7": {
        "plain": [[(0.15, 0.08), (0.85, 0.08), (0.4, 0.95)]],
        "crossbar": [[(0.15, 0.08), (0.85, 0.08), (0.42, 0.95)], [(0.35, 0.5), (0.8, 0.5)]],
        "curved": [[(0.15, 0.12), (0.85, 0.08), (0.6, 0.45), (0.5, 0.95)]],
        "hooked": [[(0.15, 0.2), (0.15, 0.08), (0.85, 0.08), (0.45, 0.95)]],
    },
    "8": {
        "two_loops": [_arc(0.5, 0.27, 0.23, 0.22, -90, 270, 14),
                      _arc(0.5, 0.72, 0.28, 0.23, -90, 270, 14)],
        "one_stroke": [[(0.7, 0.15), (0.5, 0.05), (0.28, 0.18), (0.4, 0.4), (0.72, 0.65),
                        (0.62, 0.92), (0.35, 0.92), (0.28, 0.68), (0.6, 0.42), (0.72, 0.2),
                        (0.55, 0.06)]],
    },
    "9": {
        "straight": [_arc(0.48, 0.28, 0.25, 0.23, 0, 360, 14), [(0.73, 0.28), (0.72, 0.95)]],
        "curved": [_arc(0.48, 0.28, 0.25, 0.23, 0, 360, 14),
                   [(0.73, 0.28), (0.7, 0.65), (0.55, 0.9), (0.3, 0.93)]],
        "slanted_stem": [_arc(0.5, 0.28, 0.25, 0.23, 0, 360, 14), [(0.75, 0.28), (0.5, 0.95)]],
    },
}


def _smooth(points, steps=6):
    """Control points → a denser Catmull-Rom curve through them (straight when only two)."""
    pts = np.asarray(points, dtype=np.float64)
    if len(pts) < 3:
        return pts
    padded = np.vstack([pts[0], pts, pts[-1]])
    out = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1:i + 3]
        for t in np.linspace(0, 1, steps, endpoint=False):
            out.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                              + (3 * p1 - p0 - 3 * p2 + p3) * t ** 3))
    out.append(pts[-1])
    return np.asarray(out)


def random_stroke_digit(digit: str, rng: np.random.Generator) -> Image.Image:
    """A digit ("0"–"9") in a random style, pen, slant, size and polarity → grayscale picture."""
    style = list(STYLES[digit].values())[rng.integers(len(STYLES[digit]))]
    size = int(rng.choice([28, 40, 64, 96, 160]))
    slant = math.tan(math.radians(rng.uniform(-14, 14)))
    angle = math.radians(rng.uniform(-8, 8))
    stretch_x = rng.uniform(0.75, 1.2)
    jitter = rng.uniform(0.0, 0.035)
    pen = max(1, round(size * rng.uniform(0.03, 0.14)))
    dark_on_light = rng.random() < 0.5
    paper, ink = (255, 0) if dark_on_light else (0, 255)
    # Draw larger than the result and shrink, so small pictures are anti-aliased.
    scale = 4
    image = Image.new("L", (size * scale, size * scale), paper)
    canvas = ImageDraw.Draw(image)
    cos, sin = math.cos(angle), math.sin(angle)
    for stroke in style:
        points = np.asarray(stroke) + rng.normal(0.0, jitter, (len(stroke), 2))
        curve = _smooth(points) - 0.5
        x = curve[:, 0] * stretch_x - slant * curve[:, 1]
        y = curve[:, 1]
        x, y = x * cos - y * sin, x * sin + y * cos
        margin, box = 0.12 * size * scale, 0.76 * size * scale
        xy = [(margin + box * (px + 0.5), margin + box * (py + 0.5)) for px, py in zip(x, y)]
        canvas.line(xy, fill=ink, width=pen * scale, joint="curve")
        radius = pen * scale / 2  # round pen ends
        for px, py in (xy[0], xy[-1]):
            canvas.ellipse((px - radius, py - radius, px + radius, py + radius), fill=ink)
    return image.resize((size, size), Image.Resampling.BOX)
