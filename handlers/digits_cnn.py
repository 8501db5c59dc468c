"""digits_cnn serving: an image (raw body or base64 in JSON) → the digit, its probability, the top 3."""

import io

import numpy as np
import torch
from captum.attr import IntegratedGradients
from PIL import Image

from handlers.base import ModelHandler
from handlers.explanations import DECIMALS, completeness, heatmap_png, integrate
from handlers.images import picture, picture_of
from handlers.messages import InvalidInput, Request
from handlers.protocols import Tensor
from models.digits_cnn import (IMAGE_SIZE, MAX_INK, BlankImage, digits_to_image,
                               prepare_digit_images)

# JPEGs are decoded at reduced scale down to at least this size: far more detail than an 8×8
# answer needs, for a fraction of the decode time.
JPEG_DRAFT = ("L", (256, 256))
TOP_K = 3

USAGE = ("send an image (PNG, JPEG, BMP, GIF or WebP) as the request body, "
         'or JSON {"image": "<base64>"}')


def open_image(data: bytes) -> Image.Image:
    """Image file bytes → a fully decoded Pillow image; raises InvalidInput for anything else."""
    return picture(data, USAGE, JPEG_DRAFT)


def refusal(error: ValueError) -> InvalidInput:
    """What prepare_digit_images refused a picture with → the InvalidInput that answers it."""
    if isinstance(error, BlankImage):
        return InvalidInput(str(error), reason="blank_image")
    return InvalidInput(str(error), reason="unsupported_format")  # a pixel mode it cannot read


class DigitsCNNHandler(ModelHandler):
    family = "digits_cnn"
    sample = ("samples/digit_3.png", "image/png")
    # KServe v2: one base64 image (a data: URL works too) per example, the plain answer's
    # fields as tensors.
    v2_inputs = (Tensor("image", ("BYTES",)),)
    v2_outputs = (Tensor("label", ("BYTES",)), Tensor("probability", ("FP32",)),
                  Tensor("top_k_label", ("BYTES",), (TOP_K,), field="top_k", item="label"),
                  Tensor("top_k_probability", ("FP32",), (TOP_K,), field="top_k",
                         item="probability"))

    def decode(self, request: Request) -> Image.Image:
        """Raw image body, or JSON {"image": base64} → decoded Pillow image."""
        return picture_of(request, USAGE, JPEG_DRAFT)

    def example_input(self) -> torch.Tensor:
        """→ one picture's model input, [1, 1, 8, 8] ink on 0–16."""
        return torch.zeros(1, 1, IMAGE_SIZE, IMAGE_SIZE)

    def warm_up_request(self) -> Request:
        """→ a PNG body of a one-stroke digit drawn here, a 1."""
        pixels = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
        pixels[1:7, IMAGE_SIZE // 2] = MAX_INK
        picture = io.BytesIO()
        digits_to_image(pixels).save(picture, format="PNG")
        return Request(picture.getvalue(), "image/png")

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """Pillow image → [1, 1, 8, 8] ink on 0–16, through the same function training used."""
        [pixels] = self.preprocess_batch([image])
        if isinstance(pixels, InvalidInput):
            raise pixels
        return pixels

    def preprocess_batch(self, images: list) -> list:
        """Pillow images → for each, [1, 1, 8, 8] ink on 0–16 or the InvalidInput refusing it,
        prepared together by the function training used."""
        prepared = prepare_digit_images(images)
        pixels = [result for result in prepared if not isinstance(result, ValueError)]
        inputs = iter(torch.from_numpy(np.stack(pixels))[:, None].split(1) if pixels else ())
        return [refusal(result) if isinstance(result, ValueError) else next(inputs)
                for result in prepared]

    def postprocess(self, image, logits: torch.Tensor) -> dict:
        """[1, 10] logits → {"label", "probability", "top_k": [3 × {"label", "probability"}]}."""
        return self.postprocess_batch([image], logits, [1])[0]

    def postprocess_batch(self, images: list, logits: torch.Tensor, sizes: list) -> list:
        """[N, 10] logits, one row per picture → one `postprocess` answer each, the softmax and
        top 3 of every row computed at once (row by row the same numbers as one at a time)."""
        top = torch.topk(torch.softmax(logits.float(), dim=1), TOP_K, dim=1)
        answers = []
        for values, indices in zip(top.values.tolist(), top.indices.tolist()):
            top_k = [{"label": self.labels[i], "probability": round(p, 4)}
                     for p, i in zip(values, indices)]
            answers.append({"label": top_k[0]["label"], "probability": top_k[0]["probability"],
                            "top_k": top_k})
        return answers

    def explain(self, image: Image.Image, pixels: torch.Tensor) -> dict:
        """Pillow image and its [1, 1, 8, 8] model input (on the device) → the answer plus 8×8
        per-pixel attributions toward the predicted digit (Integrated Gradients from a blank
        page), their heatmap PNG, and the completeness figures."""
        with torch.no_grad():
            logits = self.model(pixels)
        answer = self.postprocess(image, logits.cpu())
        target = self.labels.index(answer["label"])
        # A blank page: the picture with no evidence in it, so each pixel is credited
        # for its own ink, and paper (ink 0 in both) gets exactly 0.
        baseline = torch.zeros_like(pixels)
        with torch.no_grad():
            baseline_logit = self.model(baseline)[0, target]
        explainer = IntegratedGradients(self.model)
        attributions, delta, steps = integrate(
            lambda n_steps, method: explainer.attribute(pixels, baseline, target=target,
                                                        n_steps=n_steps, method=method),
            float(logits[0, target] - baseline_logit))
        grid = attributions[0, 0].cpu().double().numpy()
        return {**answer,
                "attributions": [[round(float(value), DECIMALS) for value in row] for row in grid],
                "heatmap": heatmap_png(grid),
                **completeness(logits[0, target], baseline_logit, delta, steps)}


HANDLER = DigitsCNNHandler  # what the TorchServe adapter builds for a digits_cnn checkpoint
