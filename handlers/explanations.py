"""Explanations by Integrated Gradients (Captum): what every family that explains shares.

Integrated Gradients walks a straight path from a baseline input (one that
carries no evidence) to the real input and adds up the gradients on the way.
Completeness: the attributions sum to the explained output on the input
minus the same output on the baseline. Here that output is always the
logit (log-odds) of the answered label, and every answer reports both ends
and the convergence delta (attribution sum minus that difference), so a
client can check the sum itself.

Each family's handler picks its baseline and the layer it explains, and calls
`integrate` and `completeness` here (handlers/<family>.py, `explain`).
docs: README, "Explanations".
"""

import base64
import io

import numpy as np
from PIL import Image

# The path integral is the trapezoid rule over evenly spaced points: ReLU and
# max-pooling make the CNN's gradient jump along the path, and a GRU over a long
# text can turn sharply; even spacing converges steadily on both, where
# Gauss-Legendre's clustered nodes can miss a jump by far. The intervals halve
# from FIRST_INTERVALS until the attributions add up to within TOLERANCE of the
# output difference (the README promises 5%), or MOST_INTERVALS is reached;
# each halving evaluates only the new midpoints, so the cost is that of the
# last count alone. The answer says how many points were used and the delta left.
TOLERANCE = 0.01
# Below this many logits the difference itself is float noise on the path.
ABSOLUTE_TOLERANCE = 1e-3
FIRST_INTERVALS = 32
# The worst case, a 256-token text that needs every halving (513 points), took
# 5-12 s on one thread here, by CPU load: inside the worker's 30 s
# responseTimeout (base.EXPLAIN_BUDGET_S bounds a batch of many).
MOST_INTERVALS = 512

HEATMAP_SIZE = 128  # pixels a side: each of the 8×8 cells becomes a 16×16 square
# ColorBrewer RdBu ends: red for evidence for the answer, blue against, white for none.
FOR_COLOUR = np.array([178, 24, 43], dtype=np.float32)
AGAINST_COLOUR = np.array([33, 102, 172], dtype=np.float32)
WHITE = np.array([255, 255, 255], dtype=np.float32)
DECIMALS = 6  # rounding in answers: the sum of 256 rounded attributions stays exact to 1e-4


def integrate(attribute, difference: float) -> tuple:
    """attribute(n_steps, method) → Captum's attributions; the output difference they must add
    up to → (attributions, convergence delta, points used): Captum's riemann_trapezoid with
    n_steps = points used, times points / (points - 1)."""
    intervals = FIRST_INTERVALS
    # Captum's trapezoid weights n points by 1/n (halved at the ends), which sums
    # to (n - 1)/n, not 1: rescaled, it is the trapezoid rule, and exact on a
    # straight line.
    attributions = attribute(intervals + 1, "riemann_trapezoid").detach() * ((intervals + 1) / intervals)
    while True:
        delta = float(attributions.sum()) - difference
        if (abs(delta) <= max(TOLERANCE * abs(difference), ABSOLUTE_TOLERANCE)
                or intervals >= MOST_INTERVALS):
            return attributions, delta, intervals + 1
        # The trapezoid rule on half the intervals is the mean of the rule on these
        # and the midpoint rule on these: only the midpoints are new.
        attributions = (attributions + attribute(intervals, "riemann_middle").detach()) / 2
        intervals *= 2


def completeness(logit, baseline_logit, delta, steps) -> dict:
    """The explained output on the input and on the baseline, the convergence delta (attribution
    sum minus their difference), points used → answer fields."""
    return {"logit": round(float(logit), DECIMALS), "baseline_logit": round(float(baseline_logit), DECIMALS),
            "convergence_delta": round(delta, DECIMALS), "steps": steps}


def heatmap_png(attributions: np.ndarray, size=HEATMAP_SIZE) -> str:
    """[8, 8] attributions → base64 PNG, size × size RGB: red for, blue against, white 0,
    colour scale symmetric around 0 up to the largest |attribution|."""
    largest = float(np.abs(attributions).max())
    scaled = attributions / largest if largest > 0 else np.zeros_like(attributions)
    strength = np.abs(scaled)[..., None]
    colour = np.where(scaled[..., None] >= 0, FOR_COLOUR, AGAINST_COLOUR)
    pixels = np.round(WHITE + strength * (colour - WHITE)).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB").resize((size, size), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
