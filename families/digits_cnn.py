"""digits_cnn: test-split digits as PNGs, and what the tools compare them by."""

import base64
import json

import torch
from PIL import Image

from families.digits_cnn_pictures import draw_digit, encode
from families.pictures import declared_bombs, mutated, png_declaring
from handlers.messages import Request
from harness.examples import sample_body, tensor
from models.digits_cnn import LABELS, DigitsCNN, digits_to_image
from training.digits_data import load_digit_splits

# The float32 model can round the 4th decimal of a probability differently when a
# request shares its batch with others; on a GPU, one unit of the last decimal shown.
TOLERANCE = 1e-4
GPU_TOLERANCE = 1e-4
# The benchmark's targets and reliability checks about this family, and the cross-family tests
# that need one model and take this one.
SUBJECT_OF = ("benchmark", "crash", "upgrade drill", "overload", "management under load",
              "archive", "checkpoint", "gateway", "tools")
# (batchSize, maxBatchDelay ms, format) that tools.compare_batching compares; the first: no batching.
BATCH_SETTINGS = [(1, 0, "eager"), (8, 2, "eager"), (8, 5, "eager"), (16, 2, "eager"),
                  (8, 2, "aoti")]
KEPT_FORMATS = ("aoti", "compile", "int8")
SLOW_SIDE = 4000  # pixels: the largest picture accepted, just under the 16,777,216-pixel limit
SLOWEST_WORDS = f"{SLOW_SIDE}×{SLOW_SIDE} PNGs"  # slowest_body() in the overload check's report


def bodies(checkpoint, size):
    """Test-split digits as PNGs; the bad ones are words and a cut-off PNG."""
    splits = load_digit_splits(seed=checkpoint["data"]["split"]["seed"], log=lambda line: None)
    good = [(encode(digits_to_image(pixels)), "image/png") for pixels in splits.test_raw[:size]]
    bad = [(b"plain words, no picture", "image/png"), (encode(draw_digit("3"))[:150], "image/png")]
    return good, bad


def slowest_body():
    """→ the good request that takes a worker longest: a SLOW_SIDE × SLOW_SIDE PNG (about 0.15 s)."""
    return encode(draw_digit("7", size=SLOW_SIDE)), "image/png"


def json_body(sample):
    """The sample as JSON {"image": base64}: the body both TorchServe and LitServe take."""
    body, _ = sample
    return json.dumps({"image": base64.b64encode(body).decode()}).encode(), "application/json"


def split_inputs(handler) -> list:
    """Handler → one model input per test-split digit."""
    seed = handler.checkpoint["data"]["split"]["seed"]
    return list(load_digit_splits(seed=seed, log=lambda _: None).test_x.split(1))


def agreement(expected, got) -> str:
    """Eager and format outputs → "" when every top-1 label agrees, else how many differ."""
    differ = int((expected.argmax(1) != got.argmax(1)).sum())
    return f"{differ} of {len(expected)} top-1 labels differ" if differ else ""


def small_checkpoint():
    """→ (save_checkpoint's arguments that are this family's, for a small untrained model:
    family, model, model_args, labels, preprocessing; a batch of three model inputs)."""
    model_args = {"pixel_mean": 5.0, "pixel_std": 6.0, "channels": (4, 8), "hidden": 16}
    arguments = {"family": "digits_cnn", "model": DigitsCNN(**model_args), "model_args": model_args,
                 "labels": LABELS, "preprocessing": {"image_size": 8}}
    return arguments, torch.rand(3, 1, 8, 8) * 16


def plain_examples() -> list:
    """Two plain JSON bodies: the sample twice."""
    image = base64.b64encode(sample_body("digits_cnn")[0]).decode("ascii")
    return [{"image": image}, {"image": image}]


def v1_instances(first, second) -> list:
    return [first, {"b64": second["image"]}]  # KServe's bytes convention


def v2_inputs(first, second) -> list:
    return [tensor("image", [2], "BYTES", [first["image"], second["image"]])]


def v2_outputs(first, second) -> list:
    return [
        tensor("label", [2], "BYTES", [first["label"], second["label"]]),
        tensor("probability", [2], "FP32", [first["probability"], second["probability"]]),
        tensor("top_k_label", [2, 3], "BYTES",
               [entry["label"] for answer in (first, second) for entry in answer["top_k"]]),
        tensor("top_k_probability", [2, 3], "FP32",
               [entry["probability"] for answer in (first, second) for entry in answer["top_k"]]),
    ]


# For the property tests: bodies close to what the family reads, and its documented answer.

def image_files() -> list:
    """One drawn digit in every accepted format, and a few odd modes."""
    three = draw_digit("3")
    files = [encode(three, fmt) for fmt in ("PNG", "JPEG", "BMP", "GIF", "WEBP")]
    files += [encode(three.convert(mode)) for mode in ("1", "LA", "P", "RGBA", "I;16")]
    return files


def images(st):
    files = image_files()
    # Drawn by index: a strategy over the bytes themselves would print them all in its repr.
    return st.one_of(st.integers(0, len(files) - 1).flatmap(lambda i: mutated(st, files[i])),
                     declared_bombs(st))


def base64_images(st):
    encoded = images(st).map(lambda data: base64.b64encode(data).decode())
    return st.one_of(encoded, encoded.map(lambda text: "data:image/png;base64," + text),
                     st.text(max_size=40))


def property_payloads(make):
    """The property tests' strategies (`make`: hypothesis's st, near_misses, odd_values, …) →
    bodies close to what this family reads: pictures whole or damaged, and near-miss JSON."""
    st = make.st
    image = {"image": base64.b64encode(image_files()[0]).decode()}
    return st.one_of(images(st), make.near_misses(image, st.one_of(base64_images(st),
                                                                   make.odd_values())))


def check_answer(answer, handler):
    """A 200 answer → nothing; an assertion fails where it breaks the documented shape."""
    assert set(answer) == {"label", "probability", "top_k"}
    assert len(answer["top_k"]) == 3
    assert answer["top_k"][0] == {"label": answer["label"], "probability": answer["probability"]}
    for entry in answer["top_k"]:
        assert entry["label"] in handler.labels and 0.0 <= entry["probability"] <= 1.0


# For the metrics tests (tests/test_metrics.py): refusals and the reasons they are counted under.

def refusal_reasons() -> list:
    """→ [(bad request, the reason its refusal is counted under)]."""
    return [
        (Request(b"no picture here", "image/png"), "unsupported_format"),
        (Request(encode(draw_digit("3"))[:200], "image/png"), "undecodable"),
        (Request(b'{"image": "***"}', "application/json"), "undecodable"),
        (Request(encode(draw_digit("3").point(lambda _: 255)), "image/png"), "blank_image"),
    ]


# For the bad-input tests (tests/test_bad_input.py): the field odd values are written into, how
# this family answers the cases every family gets (blanks in braces filled by the test; a 200
# with None: the sample request's answer), and the cases only it gets.
BAD_INPUT_FIELD = "image"
NOT_AN_IMAGE = "body is not a PNG, JPEG, BMP, GIF or WebP image"
BAD_INPUT_ANSWERS = {
    # Read by its bytes: anything but a picture is refused as one, even a 5,000,000-character
    # field (valid base64 of zeros); a picture is read whatever its label.
    **dict.fromkeys(["random bytes", "invalid UTF-8 text", "review sent as application/octet-stream",
                     "a 5,000,000-character field"], (400, NOT_AN_IMAGE)),
    **dict.fromkeys(["image sent as text/plain", "image sent as application/octet-stream"],
                    (200, None)),
    "JSON body that is {kind}": (
        400, 'JSON body must be an object like {{"image": "<base64>"}}, not {kind}'),
    "missing fields": (400, "JSON body is missing field(s): image"),
    "field that is {kind}": (400, '"image" must be a base64 string, not {kind}'),
    "field that is {literal}": (400, '"image" must be a base64 string, not a number'),
}


def bad_inputs() -> dict:
    """→ {case: (body, content type, status, message)}: pictures cut short, damaged, bombs, blank."""
    png = sample_body("digits_cnn")[0]
    corrupt = bytearray(png)
    start = png.index(b"IDAT") + 14
    corrupt[start:start + 20] = bytes(b ^ 0xFF for b in png[start:start + 20])
    over_limit = "image is 4097x4096 = 16,781,312 pixels; the limit is 16,777,216"
    cases = {name: (body, "image/png", 400, message) for name, body, message in [
        ("a truncated PNG", png[:len(png) // 2], "image is truncated or corrupt"),
        ("a corrupt PNG", bytes(corrupt), "image is truncated or corrupt"),
        ("a truncated JPEG", encode(draw_digit("5"), "JPEG")[:300], "image header is corrupt"),
        ("a PNG declaring 100000x100000 pixels", png_declaring(100_000, 100_000),
         "image has too many pixels; the limit is 16,777,216"),
        ("a PNG declaring 4097x4096 pixels", png_declaring(4097, 4096), over_limit),
        ("a real 4097x4096 PNG", encode(Image.new("L", (4097, 4096), 255)), over_limit),
        ("a blank picture", encode(Image.new("L", (64, 64), 255)),
         "the image holds no visible digit")]}
    cases["image field that is not base64"] = (b'{"image": "%%%"}', "application/json", 400,
                                               '"image" is not valid base64')
    return cases


def good_requests() -> list:
    """→ eight different good requests, (body, content type): drawn digits 0 to 7."""
    return [(encode(draw_digit(digit)), "image/png") for digit in "01234567"]
