"""Serving for models that classify pictures: a picture body, or JSON {"image": "<base64>"} →
the likeliest class and its probability.

A family of this kind (tools.new_family's image-classifier) subclasses ImageClassifierHandler
and gives its `prepare` function, the one its training uses.
"""

import base64
import binascii
import io

import torch
from PIL import Image

from handlers.base import ModelHandler
from handlers.classification import likeliest_class
from handlers.messages import (InvalidInput, Request, as_bytes, is_json, json_object, json_type,
                               json_value)
from handlers.protocols import Tensor
from models.images import PictureError, open_picture

USAGE = ("send a picture (PNG, JPEG, BMP, GIF or WebP) as the request body, "
         'or JSON {"image": "<base64>"}')


def image_bytes_from_json(value) -> bytes:
    """Decoded JSON → the picture bytes in its "image" field (plain or data-URL base64)."""
    encoded = json_object(value, ("image",), required=("image",),
                          example='{"image": "<base64>"}')["image"]
    if not isinstance(encoded, str):
        raise InvalidInput(f'"image" must be a base64 string, not {json_type(encoded)}',
                           reason="wrong_type")
    if encoded.startswith("data:") and "," in encoded:
        encoded = encoded.split(",", 1)[1]
    try:
        data = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidInput(f'"image" is not valid base64: {error}', reason="undecodable") from None
    if not data:
        raise InvalidInput('"image" is empty', reason="empty_body")
    return data


def picture(data: bytes, usage=USAGE, jpeg_draft=None) -> Image.Image:
    """Picture bytes → the decoded picture; raises InvalidInput saying why it is none, with
    `usage` after a format it does not read (jpeg_draft: models.images.open_picture's)."""
    try:
        return open_picture(data, jpeg_draft)
    except PictureError as error:
        message = str(error)
        if error.reason == "unsupported_format":
            message += "; " + usage
        raise InvalidInput(message, reason=error.reason) from None


def picture_of(request: Request, usage=USAGE, jpeg_draft=None) -> Image.Image:
    """A picture body, or JSON {"image": base64} → the decoded picture; raises InvalidInput
    saying why it is none, with `usage` (jpeg_draft: models.images.open_picture's)."""
    if not request.parsed and not request.body:
        raise InvalidInput("empty request body; " + usage, reason="empty_body")
    if is_json(request):
        return picture(image_bytes_from_json(json_value(request)), usage, jpeg_draft)
    return picture(as_bytes(request.body), usage, jpeg_draft)


class ImageClassifierHandler(ModelHandler):
    """A picture → [1, 3, S, S] through the family's `prepare`, one forward pass per batch."""

    # KServe v2: one base64 picture per example, the plain answer's fields as tensors.
    v2_inputs = (Tensor("image", ("BYTES",)),)
    v2_outputs = (Tensor("label", ("BYTES",)), Tensor("probability", ("FP32",)))

    @staticmethod
    def prepare(image: Image.Image):
        """A picture → its model input as a [3, S, S] array: the family's own, shared with training."""
        raise NotImplementedError

    def decode(self, request: Request) -> Image.Image:
        """A picture body, or JSON {"image": base64} → the decoded picture."""
        return picture_of(request)

    def warm_up_request(self) -> Request:
        """→ a small PNG with a dark square on white: decoded, squared and read like any."""
        picture = Image.new("RGB", (48, 32), "white")
        picture.paste((40, 40, 40), (16, 8, 32, 24))
        data = io.BytesIO()
        picture.save(data, format="PNG")
        return Request(data.getvalue(), "image/png")

    def example_input(self) -> torch.Tensor:
        """→ one blank picture's model input."""
        return self.preprocess(Image.new("RGB", (64, 64), "white"))

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """A picture → [1, 3, S, S] on 0–1, as training prepared its pictures."""
        return torch.from_numpy(self.prepare(image))[None]

    def postprocess(self, image, logits: torch.Tensor) -> dict:
        """One picture's logits → {"label", "probability"}."""
        return likeliest_class(logits[0], self.labels)
