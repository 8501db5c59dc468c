"""digits_gan serving: JSON {"digit", "count", "seed"} → that many 8×8 PNGs of the digit, base64, and the seed."""

import base64
import json
import secrets

import torch

from handlers.base import ModelHandler
from handlers.messages import (JSON_CONTENT_TYPE, InvalidInput, Request, json_object, json_type,
                               json_value)
from handlers.protocols import Tensor
from models.digits_gan import LABELS, MAX_COUNT, MAX_SEED, generate, render_pngs, request_noise

FIELDS = ("digit", "count", "seed")
EXAMPLE = '{"digit": 7, "count": 4, "seed": 123}'
USAGE = f"send JSON like {EXAMPLE}"
# A seed picked for the client stays below 2**53, so every JSON reader
# (JavaScript's included) gets it back exactly and can repeat the request.
RANDOM_SEED_LIMIT = 2**53


def json_name(value) -> str:
    """A decoded JSON value → how to name it in an error message: numbers and literals as
    written (short, whatever their size), anything else by its type."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else f"a {len(str(abs(value)))}-digit number"
    if isinstance(value, float):
        written = json.dumps(value)  # NaN and Infinity as JSON spells them, not nan and inf
        return written if len(written) <= 30 else "a number"
    return json_type(value)


def integer_field(body: dict, name: str, low: int, high: int) -> int:
    """JSON object → its integer field `name`, checked to lie in low..high; raises InvalidInput naming it."""
    value = body[name]
    # bool is an int in Python, but true is no digit.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(
            f'"{name}" must be an integer from {low} to {high}, not {json_name(value)}',
            reason="wrong_type")
    if not low <= value <= high:
        raise InvalidInput(f'"{name}" must be from {low} to {high}, not {json_name(value)}',
                           reason="out_of_range")
    return value


class DigitsGANHandler(ModelHandler):
    family = "digits_gan"
    sample = ("samples/gan_request.json", "application/json")
    # KServe v2: the plain fields as integer tensors, [N] each; "images" answers [N, count]
    # base64 PNGs, so one request asks for the same count in every example.
    v2_inputs = (Tensor("digit", ("INT64", "INT32")),
                 Tensor("count", ("INT64", "INT32"), required=False),
                 Tensor("seed", ("INT64", "INT32"), required=False))
    v2_outputs = (Tensor("digit", ("INT64",)), Tensor("seed", ("INT64",)),
                  Tensor("images", ("BYTES",), (None,)))

    def __init__(self, checkpoint: dict, device="cpu", model_format="eager", package=None):
        # Always the CPU: a generator this small gains nothing from a GPU, and
        # CPU arithmetic keeps a seed's images byte-identical on every machine.
        super().__init__(checkpoint, "cpu", model_format, package)

    def decode(self, request: Request) -> dict:
        """JSON {"digit", "count"?, "seed"?} → {"digit", "count", "seed"}, defaults filled in; raises InvalidInput."""
        body = json_object(json_value(request), FIELDS, required=("digit",), example=EXAMPLE)
        return {
            "digit": integer_field(body, "digit", 0, len(LABELS) - 1),
            "count": integer_field(body, "count", 1, MAX_COUNT) if "count" in body else 1,
            "seed": (integer_field(body, "seed", 0, MAX_SEED) if "seed" in body
                     else secrets.randbelow(RANDOM_SEED_LIMIT)),
        }

    def example_input(self) -> tuple:
        """→ one image's model input: (noise [1, noise_dim], label [1])."""
        return self.preprocess({"digit": 0, "count": 1, "seed": 0})

    def warm_up_request(self) -> Request:
        """→ a JSON body asking for one 0, its seed given (a picked one would take randomness)."""
        return Request(b'{"digit": 0, "count": 1, "seed": 0}', JSON_CONTENT_TYPE)

    def preprocess(self, request: dict) -> tuple:
        """{"digit", "count", "seed"} → (noise [count, noise_dim] from the seed alone, labels [count])."""
        noise = request_noise(request["seed"], request["count"], self.model.noise_dim)
        return noise, torch.full((request["count"],), request["digit"], dtype=torch.long)

    def inference(self, batch: tuple) -> torch.Tensor:
        """(noise, labels) of the whole batch → [N, 1, 8, 8] ink, each image computed on its own."""
        return generate(self.served, *batch)

    def postprocess(self, request: dict, images: torch.Tensor) -> dict:
        """One request and its [count, 1, 8, 8] images → {"digit", "seed", "images": [base64 PNG, …]}."""
        return self.postprocess_batch([request], images, [len(images)])[0]

    def postprocess_batch(self, requests: list, images: torch.Tensor, sizes: list) -> list:
        """The batch's requests, their [N, 1, 8, 8] images and each one's count → each one's
        `postprocess` answer, the PNGs of the whole batch rendered together."""
        encoded = [base64.b64encode(png).decode("ascii") for png in render_pngs(images)]
        answers, start = [], 0
        for request, size in zip(requests, sizes):
            answers.append({"digit": request["digit"], "seed": request["seed"],
                            "images": encoded[start:start + size]})
            start += size
        return answers


HANDLER = DigitsGANHandler  # what the TorchServe adapter builds for a digits_gan checkpoint
