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


# For the bad-input tests (tests/test_bad_input.py): the field odd values are written into, how
# this family answers the cases every family gets (blanks in braces filled by the test), and the
# cases only it gets.
BAD_INPUT_FIELD = "digit"
BAD_INPUT_ANSWERS = {
    "JSON body that is {kind}": (
        400, 'JSON body must be an object like {{"digit": 7, "count": 4, "seed": 123}}, not {kind}'),
    "missing fields": (400, "JSON body is missing field(s): digit"),
    "field that is {kind}": (400, '"digit" must be an integer from 0 to 9, not {as_written}'),
    "field that is {literal}": (400, '"digit" must be an integer from 0 to 9, not {as_json}'),
    "a 5,000,000-character field": (400, '"digit" must be an integer from 0 to 9, not a string'),
}


def bad_inputs() -> dict:
    """→ {case: (body, content type, status, message)}: JSON that is no request for digits, and
    each field out of its range or of the wrong type."""
    cases = {name: (body, JSON, 400, message) for name, body, message in [
        ("JSON cut after a key", b'{"digit": ', "malformed JSON"),
        ("an array of a digit", b"[7]", "JSON body must be an object"),
        ("a count without a digit", b'{"count": 2}', "is missing field(s): digit"),
        ("a size field", b'{"digit": 7, "size": 28}', "has unknown field(s): size"),
        ("a seed of 5,000 digits", b'{"digit": 7, "seed": 1' + b"0" * 5000 + b"}",
         "malformed JSON")]}
    # One field written as each value → what the refusal says of it.
    for field, value, problem in [
            ("digit", 10, "must be from 0 to 9, not 10"), ("digit", 12, "must be from 0 to 9, not 12"),
            ("digit", 7.0, "must be an integer from 0 to 9, not 7.0"),
            ("digit", 7.5, "must be an integer from 0 to 9, not 7.5"),
            ("digit", "7", "must be an integer from 0 to 9, not a string"),
            ("digit", True, "must be an integer from 0 to 9, not true"),
            ("count", 17, "must be from 1 to 16, not 17"),
            ("count", None, "must be an integer from 1 to 16"),
            ("seed", -1, "must be from 0 to 9223372036854775807, not -1"),
            ("seed", 2**63, "must be from 0 to 9223372036854775807")]:
        fields = {"digit": value} if field == "digit" else {"digit": 7, field: value}
        cases[f"{field} {json.dumps(value)}"] = (json.dumps(fields).encode(), JSON, 400,
                                                f'"{field}" {problem}')
    return cases


def good_requests() -> list:
    """→ eight different good requests, (body, content type): digits 0 to 7, three images each."""
    return [(json.dumps({"digit": digit, "count": 3, "seed": 1000 + digit}).encode(), JSON)
            for digit in range(8)]
