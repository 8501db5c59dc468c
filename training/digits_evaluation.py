"""digits_cnn's evaluation sets: digits as people submit them, never used for training or model selection.

Kinds (each a fixed set, the same for every seed and machine):
- "handwritten": hand-specified stroke drawings of every digit in the styles
  people use (1 with and without flag and base, 7 with and without crossbar,
  open and closed 4, 9 with straight and curved stem), × thin and thick pen ×
  slant −10°/0°/+10° × 28 px and 1000 px × both polarities. Drawn here with their
  own control points and their own drawing code (disc stamping along
  corner-cut polylines), apart from the training generator.
- "typed": digits typed in evaluation-only fonts (sans, serif, monospace) at
  screen sizes, in light, dark and coloured themes, as a screenshot shows them.
- "photographed": handwritten and typed digits dressed as a phone photo or a
  scan: off-centre on a larger page, uneven lighting, blur, light noise, JPEG.
- "mnist_holdout": 1,000 real handwritten MNIST digits never trained on.
"""

import io
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

from models.digits_cnn import prepare_digit_image
from training.digits_sources import FONTS, fonts_for, mnist_digits, mnist_holdout_mask
from training.digits_typed import typed_digit
from training.evaluation import expected_calibration_error

KINDS = ("handwritten", "typed", "photographed", "mnist_holdout")
# The three kinds, each with a 97% target; MNIST is reported beside them.
TARGET_KINDS = ("handwritten", "typed", "photographed")
TARGET_ACCURACY = 0.97

# (label, style) → strokes, each a polyline in a unit box (x right, y down) whose
# corners are cut into curves. Written for evaluation alone.
HAND_DRAWN = {
    ("0", "oval"): [[(0.5, 0.04), (0.78, 0.15), (0.84, 0.5), (0.74, 0.86), (0.5, 0.96),
                     (0.26, 0.86), (0.17, 0.5), (0.24, 0.15), (0.52, 0.04)]],
    ("1", "plain"): [[(0.52, 0.04), (0.49, 0.96)]],
    ("1", "flag"): [[(0.27, 0.3), (0.57, 0.04), (0.57, 0.04), (0.55, 0.96)]],
    ("1", "flag_and_base"): [[(0.3, 0.26), (0.55, 0.04), (0.55, 0.04), (0.55, 0.95)],
                             [(0.25, 0.96), (0.85, 0.96)]],
    ("2", "curved"): [[(0.18, 0.28), (0.3, 0.06), (0.7, 0.04), (0.8, 0.3), (0.55, 0.62),
                       (0.17, 0.96), (0.17, 0.96), (0.86, 0.95)]],
    ("3", "two_bowls"): [[(0.17, 0.14), (0.5, 0.03), (0.8, 0.2), (0.6, 0.46), (0.4, 0.48),
                          (0.4, 0.48), (0.83, 0.66), (0.7, 0.95), (0.16, 0.88)]],
    ("4", "closed"): [[(0.66, 0.97), (0.66, 0.03), (0.66, 0.03), (0.1, 0.68), (0.1, 0.68),
                       (0.9, 0.68)]],
    ("4", "open"): [[(0.24, 0.03), (0.16, 0.64), (0.16, 0.64), (0.9, 0.63)],
                    [(0.68, 0.25), (0.68, 0.97)]],
    ("5", "flag_top"): [[(0.84, 0.05), (0.3, 0.05)],
                        [(0.3, 0.05), (0.25, 0.46), (0.25, 0.46), (0.7, 0.4), (0.84, 0.7),
                         (0.62, 0.97), (0.18, 0.88)]],
    ("6", "loop"): [[(0.74, 0.06), (0.38, 0.2), (0.2, 0.62), (0.34, 0.95), (0.7, 0.93),
                     (0.78, 0.62), (0.5, 0.5), (0.22, 0.64)]],
    ("7", "plain"): [[(0.14, 0.06), (0.88, 0.06), (0.88, 0.06), (0.38, 0.97)]],
    ("7", "crossbar"): [[(0.14, 0.06), (0.88, 0.06), (0.88, 0.06), (0.4, 0.97)],
                        [(0.3, 0.52), (0.82, 0.5)]],
    ("8", "figure"): [[(0.72, 0.14), (0.5, 0.03), (0.26, 0.16), (0.34, 0.4), (0.72, 0.6),
                       (0.76, 0.9), (0.5, 0.97), (0.24, 0.88), (0.3, 0.6), (0.66, 0.4),
                       (0.76, 0.2), (0.6, 0.04)]],
    ("9", "straight_stem"): [[(0.74, 0.2), (0.5, 0.04), (0.24, 0.14), (0.22, 0.4), (0.46, 0.52),
                              (0.72, 0.4), (0.74, 0.2)], [(0.74, 0.2), (0.74, 0.97)]],
    ("9", "curved_stem"): [[(0.74, 0.2), (0.5, 0.04), (0.24, 0.14), (0.22, 0.4), (0.46, 0.52),
                            (0.72, 0.4), (0.74, 0.2)],
                           [(0.74, 0.2), (0.74, 0.7), (0.6, 0.96), (0.28, 0.92)]],
}
PENS = {"thin": 0.035, "thick": 0.11}  # pen width as a share of the picture's side
SLANTS = (-10.0, 0.0, 10.0)  # degrees, positive leans right
SIZES = (28, 1000)  # pixels, the small and large
# Screen text: sizes in pixels, and (ink, paper) themes.
TEXT_SIZES = (11, 14, 18, 24, 36, 64)
THEMES = {"light": ((0, 0, 0), (255, 255, 255)), "dark": ((230, 230, 230), (30, 30, 35)),
          "coloured": ((20, 60, 160), (255, 248, 220))}
PHOTO_SEED = 2024  # fixes the photo dressing, the same on every machine


def _corner_cut(points, rounds=3):
    """Polyline → a smoother polyline by Chaikin's corner cutting; a repeated point keeps a sharp corner."""
    pts = [np.asarray(p, dtype=np.float64) for p in points]
    for _ in range(rounds):
        out = [pts[0]]
        for a, b in zip(pts[:-1], pts[1:]):
            if np.allclose(a, b):
                out.append(a)
                continue
            out += [0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b]
        out.append(pts[-1])
        pts = out
    return np.asarray(pts)


def draw_hand(strokes, size, pen, slant_degrees=0.0, dark_on_light=True) -> Image.Image:
    """Strokes in a unit box → a size × size grayscale picture, drawn by stamping round pen tips."""
    scale = max(1, math.ceil(240 / size))  # small pictures drawn finer, then box-averaged
    side = size * scale
    paper, ink = (255, 0) if dark_on_light else (0, 255)
    image = Image.new("L", (side, side), paper)
    canvas = ImageDraw.Draw(image)
    radius = max(0.5, pen * side / 2)
    shear = math.tan(math.radians(slant_degrees))
    for stroke in strokes:
        path = _corner_cut(stroke)
        x = 0.5 + (path[:, 0] - 0.5) * 0.8 + shear * (0.5 - path[:, 1]) * 0.8
        y = 0.1 + path[:, 1] * 0.8
        xy = np.stack([x, y], 1) * side
        for a, b in zip(xy[:-1], xy[1:]):
            steps = max(1, int(np.linalg.norm(b - a) / max(radius / 3, 0.5)))
            for t in np.linspace(0.0, 1.0, steps + 1):
                px, py = a + (b - a) * t
                canvas.ellipse((px - radius, py - radius, px + radius, py + radius), fill=ink)
    return image.resize((size, size), Image.Resampling.BOX) if scale > 1 else image


def photograph(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Dark-on-light picture → RGB as a phone photo or scan of it: off-centre, uneven light, blur, noise, JPEG."""
    ink = 1.0 - np.asarray(picture.convert("L"), dtype=np.float32) / 255.0
    h, w = ink.shape
    page_h, page_w = int(h * rng.uniform(1.5, 2.5)), int(w * rng.uniform(1.5, 2.5))
    top, left = rng.integers(0, page_h - h + 1), rng.integers(0, page_w - w + 1)
    page_ink = np.zeros((page_h, page_w), dtype=np.float32)
    page_ink[top:top + h, left:left + w] = ink
    paper, pencil = rng.uniform(180, 240), rng.uniform(20, 80)
    tone = paper * (1 - page_ink) + pencil * page_ink
    # Light falls off across the page from a random side.
    yy, xx = np.mgrid[0:page_h, 0:page_w].astype(np.float32)
    direction = rng.uniform(0, 2 * math.pi)
    ramp = (xx / page_w - 0.5) * math.cos(direction) + (yy / page_h - 0.5) * math.sin(direction)
    corner = ((xx / page_w - 0.5) ** 2 + (yy / page_h - 0.5) ** 2) * 2  # 0 centre, 1 corners
    light = 1.0 - rng.uniform(0.1, 0.3) * (ramp + 0.5) - rng.uniform(0.0, 0.12) * corner
    tint = np.array([1.0, rng.uniform(0.95, 1.0), rng.uniform(0.85, 0.98)], dtype=np.float32)
    rgb = np.clip((tone * light)[..., None] * tint, 0, 255).astype(np.uint8)
    photo = Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0) * max(h, w) / 200))
    noisy = np.asarray(photo, dtype=np.float32) + rng.normal(0, rng.uniform(2, 6), rgb.shape)
    photo = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=int(rng.integers(55, 81)))
    return Image.open(io.BytesIO(buffer.getvalue()))


@dataclass
class EvaluationSet:
    """One kind's pictures prepared for the model: pixels [N, 1, 8, 8], labels [N], a name for each."""

    pixels: torch.Tensor
    labels: torch.Tensor
    names: list = field(default_factory=list)


def _prepared(pictures, labels, names) -> EvaluationSet:
    pixels = np.stack([prepare_digit_image(p) for p in pictures])
    return EvaluationSet(torch.from_numpy(pixels).unsqueeze(1),
                         torch.tensor([int(label) for label in labels]), names)


def handwritten_pictures():
    """→ [(picture, label, name)] for every style × pen × slant × size × polarity."""
    out = []
    for (label, style), strokes in HAND_DRAWN.items():
        for pen_name, pen in PENS.items():
            for slant in SLANTS:
                for size in SIZES:
                    for dark_on_light in (True, False):
                        name = (f"{label} {style}, {pen_name} pen, slant {slant:+.0f}°, {size}px, "
                                + ("dark on light" if dark_on_light else "light on dark"))
                        out.append((draw_hand(strokes, size, pen, slant, dark_on_light), label, name))
    return out


def typed_pictures():
    """→ [(picture, label, name)] for every evaluation font × digit × text size × theme."""
    out = []
    for font in fonts_for("evaluation"):
        for text_px in TEXT_SIZES:
            for theme, (ink, paper) in THEMES.items():
                pad = max(2, text_px // 3)
                for label in "0123456789":
                    out.append((typed_digit(label, font, text_px, ink, paper, (pad, pad, pad, pad)),
                                label, f"{label} in {font} ({FONTS[font][2]}), {text_px}px, {theme}"))
    return out


def photographed_pictures():
    """→ [(picture, label, name)]: handwritten (240 px) and typed (40 px) digits, each photographed once."""
    rng = np.random.default_rng(PHOTO_SEED)
    out = []
    for (label, style), strokes in HAND_DRAWN.items():
        for pen_name, pen in PENS.items():
            for slant in SLANTS:
                picture = draw_hand(strokes, 240, pen, slant)
                out.append((photograph(picture, rng), label,
                            f"photo of {label} {style}, {pen_name} pen, slant {slant:+.0f}°"))
    for font in fonts_for("evaluation"):
        for label in "0123456789":
            picture = typed_digit(label, font, 40, pad=(12, 12, 12, 12))
            out.append((photograph(picture, rng), label, f"photo of {label} typed in {font}"))
    return out


def mnist_holdout():
    """→ EvaluationSet of the MNIST hold-out (light ink on black, 28 × 28)."""
    images, labels = mnist_digits()
    holdout = mnist_holdout_mask(labels)
    pictures = [Image.fromarray(image) for image in images[holdout]]
    return _prepared(pictures, labels[holdout], [f"MNIST #{i}" for i in np.flatnonzero(holdout)])


@lru_cache(maxsize=1)
def evaluation_sets() -> dict:
    """→ {kind: EvaluationSet} for every kind in KINDS, built once per process."""
    sets = {}
    for kind, make in (("handwritten", handwritten_pictures), ("typed", typed_pictures),
                       ("photographed", photographed_pictures)):
        pictures, labels, names = zip(*make())
        sets[kind] = _prepared(pictures, labels, list(names))
    sets["mnist_holdout"] = mnist_holdout()
    return sets


@torch.inference_mode()
def evaluate_kinds(model, sets=None, max_errors=10) -> dict:
    """Model in eval mode → {kind: accuracy, count, mean confidence, ECE, the first misread pictures}."""
    report = {}
    for kind, data in (sets or evaluation_sets()).items():
        probabilities = torch.softmax(model(data.pixels), 1)
        confidence, predicted = probabilities.max(1)
        correct = (predicted == data.labels).numpy()
        errors = [f"{data.names[i]} → {int(predicted[i])}" for i in np.flatnonzero(~correct)]
        report[kind] = {"accuracy": float(correct.mean()), "count": int(len(correct)),
                        "mean_confidence": float(confidence.mean()),
                        "ece": expected_calibration_error(confidence.numpy(), correct),
                        "misread": errors[:max_errors], "misread_count": len(errors)}
    return report
