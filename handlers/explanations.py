"""Explanations by Integrated Gradients (Captum): how much each pixel or word moved the model's answer.

Integrated Gradients walks a straight path from a baseline input (one that
carries no evidence) to the real input and adds up the gradients on the way.
Completeness: the attributions sum to the explained output on the input
minus the same output on the baseline. Here that output is always the
logit (log-odds) of the answered label, and every answer reports both ends
and the convergence delta (attribution sum minus that difference), so a
client can check the sum itself.

digits_cnn explains the predicted digit against a blank page (ink 0 in every
pixel); sentiment_rnn explains the answered label against a text of the same
length whose every token is <unk>, at the layer that turns each token's ids
into one vector. docs: README, "Explanations".
"""

import base64
import io

import numpy as np
import torch
from captum.attr import IntegratedGradients, LayerIntegratedGradients
from PIL import Image

from models.sentiment_rnn import UNK_ID, normalize_text, tokenize

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
# Path points a GRU evaluates in one forward/backward pass over a review: past
# about 64 of 256-token texts the pass gets slower per point (cache), not faster.
REVIEW_POINTS_PER_PASS = 32

HEATMAP_SIZE = 128  # pixels a side: each of the 8×8 cells becomes a 16×16 square
# ColorBrewer RdBu ends: red for evidence for the digit, blue against, white for none.
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


def explain_digit(handler, image, pixels: torch.Tensor) -> dict:
    """A digits_cnn request's image and its [1, 1, 8, 8] model input (on the device) → the
    /predictions answer plus per-pixel attributions toward the predicted digit, their heatmap,
    and the completeness figures."""
    model = handler.model
    with torch.no_grad():
        logits = model(pixels)
    answer = handler.postprocess(image, logits.cpu())
    target = handler.labels.index(answer["label"])
    # A blank page: the picture with no evidence in it, so each pixel is credited
    # for its own ink, and paper (ink 0 in both) gets exactly 0.
    baseline = torch.zeros_like(pixels)
    with torch.no_grad():
        baseline_logit = model(baseline)[0, target]
    explainer = IntegratedGradients(model)
    attributions, delta, steps = integrate(
        lambda n_steps, method: explainer.attribute(pixels, baseline, target=target,
                                                    n_steps=n_steps, method=method),
        float(logits[0, target] - baseline_logit))
    grid = attributions[0, 0].cpu().double().numpy()
    return {**answer,
            "attributions": [[round(float(value), DECIMALS) for value in row] for row in grid],
            "heatmap": heatmap_png(grid),
            **completeness(logits[0, target], baseline_logit, delta, steps)}


def review_tokens(handler, text: str) -> list:
    """Review text → its tokens as the model reads them: normalized, tokenized, cut at max_tokens."""
    return tokenize(normalize_text(text))[:handler.model.max_tokens]


def explain_review(handler, text: str, model_input: tuple) -> dict:
    """A sentiment_rnn request's text and its ([1, T] token ids, [1] length) model input (on the
    device) → the /predictions answer plus each token's attribution toward the answered label,
    and the completeness figures."""
    model = handler.model
    token_ids, lengths = model_input
    with torch.no_grad():
        logit = model(token_ids, lengths)
    answer = handler.postprocess(text, logit.cpu())
    # The label's log-odds: the positive logit, or its negative for "negative".
    sign = 1.0 if answer["label"] == handler.labels[1] else -1.0
    # Every token <unk>, same length: the text with no word in it. Training
    # turns some tokens into <unk> (word dropout), so the model knows it as "no
    # evidence"; baseline_logit says where that sits in every answer. All-<pad>
    # (zero embeddings, never seen in training) swings with length. Every real
    # token, known to the vocabulary or read through its n-grams alone, differs
    # from <unk>, so each gets its own share.
    baseline = torch.full_like(token_ids, UNK_ID)
    with torch.no_grad():
        baseline_logit = model(baseline, lengths)[0]
    explainer = LayerIntegratedGradients(lambda ids, n: sign * model(ids, n), model.embedding)
    # cuDNN runs a GRU backward only in training mode; the model stays in eval mode.
    with torch.backends.cudnn.flags(enabled=False):
        attributions, delta, steps = integrate(
            lambda n_steps, method: explainer.attribute(
                token_ids, baseline, additional_forward_args=(lengths,), n_steps=n_steps,
                method=method, internal_batch_size=REVIEW_POINTS_PER_PASS),
            sign * float(logit[0] - baseline_logit))
    per_token = attributions[0].sum(dim=1).cpu().double().tolist()
    tokens = review_tokens(handler, text)
    return {**answer,
            "tokens": [{"token": token, "known": token in model.token_ids,
                        "attribution": round(value, DECIMALS)}
                       for token, value in zip(tokens, per_token)],
            **completeness(sign * logit[0], sign * baseline_logit, delta, steps)}
