"""What the shared checks send an image family, and expect back: its sample, pictures of its own
test split, and pictures cut short, damaged or claiming too many pixels.

A family made by tools.new_family's image kind names `EXAMPLES = PictureExamples(...)` in its
families/<family>.py; harness.examples reads the hooks below from it (the list is there).
"""

import base64
import json
import struct
import zlib

from families.outputs import classes_agree
from handlers.messages import Request
from harness.examples import sample_body, tensor
from models.images import MAX_PIXELS

JSON = "application/json"
CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                 ".bmp": "image/bmp", ".gif": "image/gif", ".webp": "image/webp"}
NOT_A_PICTURE = "body is not a PNG, JPEG, BMP, GIF or WebP image"


def png_declaring(width, height, mode_byte=0, depth=8) -> bytes:
    """A PNG whose header declares width × height, with a few bytes of pixels: a bomb's shape."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, depth, mode_byte, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def mutated(st, data: bytes):
    """Picture bytes → a strategy: the same bytes, cut short, or with a few bytes overwritten."""
    cut = st.integers(0, len(data)).map(lambda n: data[:n])
    flips = st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)),
                     min_size=1, max_size=4)

    def flip(changes):
        changed = bytearray(data)
        for index, value in changes:
            changed[index] = value
        return bytes(changed)
    return st.one_of(st.just(data), cut, flips.map(flip))


def declared_bombs(st):
    """A strategy of PNG headers declaring any size, mode and depth."""
    return st.builds(png_declaring, st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1),
                     st.sampled_from([0, 2, 3, 4, 6]), st.sampled_from([1, 8, 16]))


def as_json(data: bytes) -> dict:
    return {"image": base64.b64encode(data).decode()}


class PictureExamples:
    """An image family's examples, from its sample and the test split its load_splits gives."""

    # A float32 model may round a probability's 4th decimal otherwise in another batch.
    TOLERANCE = 1e-4
    GPU_TOLERANCE = 1e-4
    BAD_INPUT_FIELD = "image"  # the field the bad-input tests write odd values into
    # How the cases every family gets are answered here (blanks in braces filled by the test).
    BAD_INPUT_ANSWERS = {
        **dict.fromkeys(["random bytes", "invalid UTF-8 text",
                         "review sent as application/octet-stream",
                         "a 5,000,000-character field"], (400, NOT_A_PICTURE)),
        # A picture is read by its bytes, whatever its label: answered as if sent as one.
        **dict.fromkeys(["image sent as text/plain", "image sent as application/octet-stream"],
                        (200, "image/png")),
        "JSON body that is {kind}": (
            400, 'JSON body must be an object like {{"image": "<base64>"}}, not {kind}'),
        "missing fields": (400, "JSON body is missing field(s): image"),
        "field that is {kind}": (400, '"image" must be a base64 string, not {kind}'),
        "field that is {literal}": (400, '"image" must be a base64 string, not a number'),
    }

    def __init__(self, family, load_splits):
        self.family = family
        self.load_splits = load_splits

    def sample(self) -> tuple:
        """The family's sample picture: (bytes, content type)."""
        return sample_body(self.family)

    def evaluation_splits(self):
        """→ the family's splits (seed 0); a brought model is scored on their test split, and
        their classes are its labels (tools.bring_model)."""
        return self.load_splits(seed=0, log=lambda line: None)

    def files(self, seed=0) -> list:
        return self.load_splits(seed=seed, log=lambda line: None).test_files

    def request(self, path, index) -> tuple:
        """A test-split picture → (body, content type): as it is, or every other one in JSON."""
        if index % 2:
            return json.dumps(as_json(path.read_bytes())).encode(), JSON
        return path.read_bytes(), CONTENT_TYPES[path.suffix.lower()]

    def bodies(self, checkpoint, size):
        """Test-split pictures as they are and in JSON; the bad ones are no picture, or JSON
        without "image"."""
        files = self.files(checkpoint["data"]["split"]["seed"])
        good = [self.request(files[index % len(files)], index) for index in range(size)]
        bad = [(b"no picture at all", "image/png"), (b'{"img": ""}', JSON)]
        return good, bad

    def good_requests(self) -> list:
        """Eight different good requests: the sample and seven test-split pictures."""
        files = self.files()
        return [self.sample(), *[self.request(files[index % len(files)], index)
                                 for index in range(7)]]

    def bad_inputs(self) -> dict:
        """The cases only image families get: pictures cut short, declaring too many pixels,
        base64 that is none."""
        data, content_type = self.sample()
        side = int(MAX_PIXELS ** 0.5)
        return {
            # Cut in its header or in its pixels, by the picture: both are called corrupt.
            "a picture cut short": (data[:len(data) // 2], content_type, 400, "corrupt"),
            "a PNG declaring 100000x100000 pixels": (
                png_declaring(100_000, 100_000), "image/png", 400, "image has too many pixels"),
            "a PNG declaring one row more than the limit": (
                png_declaring(side + 1, side), "image/png", 400,
                f"the limit is {MAX_PIXELS:,}"),
            "base64 that is none": (b'{"image": "***"}', JSON, 400, '"image" is not valid base64'),
        }

    def refusal_reasons(self) -> list:
        """[(bad request, the reason its refusal is counted under)]."""
        data, content_type = self.sample()
        return [(Request(b"no picture here", "image/png"), "unsupported_format"),
                (Request(b'{"image": "***"}', JSON), "undecodable"),
                (Request(png_declaring(100_000, 100_000), "image/png"), "too_large"),
                (Request(b"", content_type), "empty_body")]

    def metered_requests(self) -> list:
        """[(body, content type, rows a valid one holds, reason a bad one is refused for)]."""
        data, content_type = self.sample()
        return [(data, content_type, 1, None), (json.dumps(as_json(data)).encode(), JSON, 1, None),
                (b"no picture here", "image/png", 0, "unsupported_format"),
                (b'{"image": "***"}', JSON, 0, "undecodable")]

    def plain_examples(self) -> list:
        """Two plain JSON bodies: the sample and the first test-split picture, in base64."""
        return [as_json(self.sample()[0]), as_json(self.files()[0].read_bytes())]

    def v1_instances(self, first, second) -> list:
        return [first, {"b64": second["image"]}]  # KServe's bytes convention

    def v2_inputs(self, first, second) -> list:
        return [tensor("image", [2], "BYTES", [first["image"], second["image"]])]

    def v2_outputs(self, first, second) -> list:
        return [tensor("label", [2], "BYTES", [first["label"], second["label"]]),
                tensor("probability", [2], "FP32", [first["probability"], second["probability"]])]


    def split_inputs(self, handler) -> list:
        """Handler → one model input per test-split picture."""
        splits = self.load_splits(seed=handler.checkpoint["data"]["split"]["seed"],
                                  log=lambda line: None)
        return list(splits.test_x.split(1))

    def agreement(self, expected, got) -> str:
        """Eager and format outputs → "" when every answered class agrees."""
        return classes_agree(expected, got)

    def property_payloads(self, make):
        """The property tests' strategies → the sample whole or damaged, bombs' headers, and
        near-miss JSON around it."""
        st = make.st
        data = self.sample()[0]
        pictures = st.one_of(mutated(st, data), declared_bombs(st))
        encoded = pictures.map(lambda raw: as_json(raw)["image"])
        return st.one_of(pictures, make.near_misses(as_json(data), st.one_of(
            encoded, st.text(max_size=40), make.odd_values())))

    def check_answer(self, answer, handler):
        """A 200 answer → nothing; an assertion fails where it breaks the documented shape."""
        assert set(answer) == {"label", "probability"} and answer["label"] in handler.labels
