"""digits_gan's request decoding and PNG rendering as they were before issue 15, frozen: the
"before" side of bench.handler_speed, and the reference that tests/test_digits_gan_reference.py
holds the handler's PNG bytes and refusals to.

The functions below are verbatim copies of the old code, kept on purpose.
"""

import base64
import io
import secrets

import numpy as np
import torch

from bench.handlers_before.pipeline import PipelineBefore, json_value
from handlers.digits_gan import EXAMPLE, FIELDS, RANDOM_SEED_LIMIT, DigitsGANHandler, integer_field
from handlers.messages import Request, json_object
from models.digits_cnn import IMAGE_SIZE, digits_to_image
from models.digits_gan import LABELS, MAX_COUNT, MAX_SEED


def render_png(pixels: torch.Tensor) -> bytes:
    """[1, 8, 8] or [8, 8] ink on 0–16 → 8×8 grayscale PNG bytes, light ink on black like load_digits."""
    values = pixels.detach().cpu().reshape(IMAGE_SIZE, IMAGE_SIZE).numpy().astype(np.float32)
    buffer = io.BytesIO()
    digits_to_image(values).save(buffer, format="PNG")
    return buffer.getvalue()


class DigitsGANHandlerBefore(PipelineBefore, DigitsGANHandler):
    """The digits_gan handler with its decode and postprocess steps as they were: each image
    saved as a PNG file of its own, one request at a time, through the shared pipeline as it was."""

    def decode(self, request: Request) -> dict:
        """JSON {"digit", "count"?, "seed"?} → {"digit", "count", "seed"}, defaults filled in; raises InvalidInput."""
        body = json_object(json_value(request), FIELDS, required=("digit",), example=EXAMPLE)
        return {
            "digit": integer_field(body, "digit", 0, len(LABELS) - 1),
            "count": integer_field(body, "count", 1, MAX_COUNT) if "count" in body else 1,
            "seed": (integer_field(body, "seed", 0, MAX_SEED) if "seed" in body
                     else secrets.randbelow(RANDOM_SEED_LIMIT)),
        }

    def postprocess(self, request: dict, images: torch.Tensor) -> dict:
        """One request and its [count, 1, 8, 8] images → {"digit", "seed", "images": [base64 PNG, …]}."""
        return {"digit": request["digit"], "seed": request["seed"],
                "images": [base64.b64encode(render_png(image)).decode("ascii") for image in images]}


HANDLER = DigitsGANHandlerBefore  # what bench.handler_speed times as digits_gan's "before"
