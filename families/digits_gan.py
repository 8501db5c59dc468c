"""digits_gan: seeded requests for digits, and what the tools compare images by."""

import base64
import io
import json
import random

import numpy as np
from PIL import Image

from handlers.messages import Request
from harness.examples import sample_body, tensor
from models.digits_cnn import MAX_INK
from models.digits_gan import MAX_COUNT, decode_png

# The GAN draws each image on its own, so served answers are exact.
TOLERANCE = 0.0
GPU_TOLERANCE = 0.0
GREY_LEVELS = 2  # the GAN's pixels may round differently on the GPU
# A pixel, as the 0–255 grey level of the PNG served, may move this much in another format.
PIXEL_TOLERANCE = 1
SEEDS = range(10)  # × 10 digits × MAX_COUNT images: 1,600 images compared across formats
BATCH_SETTINGS = [(1, 0, "eager"), (4, 2, "eager"), (8, 2, "eager"), (8, 5, "eager")]
KEPT_FORMATS = ("aoti",)
JSON = "application/json"


def bodies(checkpoint, size):
    """Random digits, 1 to 4 images each, with fixed seeds; the bad ones ask for digit 10 or 0 images."""
    pick = random.Random(0)
    good = [(json.dumps({"digit": pick.randrange(10), "count": pick.randint(1, 4),
                         "seed": pick.randrange(2**32)}).encode(), JSON) for _ in range(size)]
    bad = [(b'{"digit": 10}', JSON), (b'{"digit": 3, "count": 0}', JSON)]
    return good, bad


def gpu_difference(expected, got) -> str:
    """Two answers → "" when digit, seed and images agree within GREY_LEVELS."""
    for field in ("digit", "seed"):
        if expected.get(field) != got.get(field):
            return f"{field}: {got.get(field)} ≠ {expected.get(field)}"
    if len(expected["images"]) != len(got["images"]):
        return f"{len(got['images'])} images where {len(expected['images'])} were expected"
    for index, (a, b) in enumerate(zip(expected["images"], got["images"])):
        pixels = [np.asarray(Image.open(io.BytesIO(base64.b64decode(x))), dtype=np.int16)
                  for x in (a, b)]
        if pixels[0].shape != pixels[1].shape or np.abs(pixels[0] - pixels[1]).max() > GREY_LEVELS:
            return f"image {index} differs by more than {GREY_LEVELS} grey levels"
    return ""


def split_inputs(handler) -> list:
    """Handler → fixed requests: every digit, MAX_COUNT images, each of SEEDS."""
    return [handler.preprocess({"digit": digit, "count": MAX_COUNT, "seed": seed})
            for digit in range(10) for seed in SEEDS]


def grey(output):
    """Generator output → the 0–255 grey levels its PNGs carry."""
    return np.round(np.clip(output.numpy(), 0, MAX_INK) * (255 / MAX_INK))


def agreement(expected, got) -> str:
    """Eager and format outputs → "" when every pixel is within PIXEL_TOLERANCE grey levels."""
    largest = float(np.abs(grey(expected) - grey(got)).max())
    return f"pixels differ by up to {largest:.0f} grey levels" if largest > PIXEL_TOLERANCE else ""


def identical(expected, got) -> bool:
    """Whether the served PNGs would be identical: the same grey levels."""
    return bool((grey(expected) == grey(got)).all())


def plain_examples() -> list:
    """Two plain JSON bodies: four sevens and four threes, seeded."""
    return [{"digit": 7, "count": 4, "seed": 123}, {"digit": 3, "count": 4, "seed": 9}]


def v2_inputs(first, second) -> list:
    return [tensor(name, [2], "INT64", [first[name], second[name]])
            for name in ("digit", "count", "seed")]


def v2_outputs(first, second) -> list:
    return [tensor("digit", [2], "INT64", [first["digit"], second["digit"]]),
            tensor("seed", [2], "INT64", [first["seed"], second["seed"]]),
            tensor("images", [2, 4], "BYTES", first["images"] + second["images"])]


# For the property tests: bodies close to what the family reads, and its documented answer.

def property_payloads(make):
    """The property tests' strategies (`make`: hypothesis's st, near_misses, odd_values, …) →
    the sample request with odd values in its fields."""
    st = make.st
    values = st.one_of(make.odd_values(), st.integers(-3, 20), make.numbers(), make.json_scalars())
    return make.near_misses(json.loads(sample_body("digits_gan")[0]), values)


def check_answer(answer, handler):
    """A 200 answer → nothing; an assertion fails where it breaks the documented shape."""
    assert set(answer) == {"digit", "seed", "images"}
    assert type(answer["digit"]) is int and answer["digit"] in range(10)
    assert type(answer["seed"]) is int and answer["seed"] >= 0
    assert 1 <= len(answer["images"]) <= MAX_COUNT
    for image in answer["images"]:
        assert decode_png(base64.b64decode(image, validate=True)).size == (8, 8)


# For the metrics tests (tests/test_metrics.py): refusals and the reasons they are counted under.

def refusal_reasons() -> list:
    """→ [(bad request, the reason its refusal is counted under)]."""
    return [(Request(b'{"digit": 12}', JSON), "out_of_range"),
            (Request(b'{"digit": 3}', JSON, explain=True), "not_offered")]
