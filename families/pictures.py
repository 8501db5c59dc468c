"""What the shared checks send an image family, and expect back: pictures of its own test split.

A family made by tools.new_family's image kind names `EXAMPLES = PictureExamples(...)` in its
families/<family>.py; harness.examples reads the hooks below from it.
"""

import base64
import json

from harness.examples import tensor

JSON = "application/json"
CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                 ".bmp": "image/bmp", ".gif": "image/gif", ".webp": "image/webp"}


class PictureExamples:
    """An image family's examples, from the test split its training module's load_splits gives."""

    # A float32 model may round a probability's 4th decimal otherwise in another batch.
    TOLERANCE = 1e-4
    GPU_TOLERANCE = 1e-4

    def __init__(self, family, load_splits):
        self.family = family
        self.load_splits = load_splits

    def files(self, seed=0) -> list:
        return self.load_splits(seed=seed, log=lambda line: None).test_files

    def bodies(self, checkpoint, size):
        """Test-split pictures as they are, every other one as base64 JSON; the bad ones are no
        picture, or JSON without "image"."""
        files = self.files(checkpoint["data"]["split"]["seed"])
        good = []
        for index in range(size):
            path = files[index % len(files)]
            if index % 2:
                good.append((json.dumps({"image": base64.b64encode(path.read_bytes()).decode()})
                             .encode(), JSON))
            else:
                good.append((path.read_bytes(), CONTENT_TYPES[path.suffix.lower()]))
        bad = [(b"no picture at all", "image/png"), (b'{"img": ""}', JSON)]
        return good, bad

    def plain_examples(self) -> list:
        """Two plain JSON bodies: the first two test-split pictures in base64."""
        return [{"image": base64.b64encode(path.read_bytes()).decode()}
                for path in self.files()[:2]]

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
        def answered(outputs):
            return (outputs > 0).long() if outputs.dim() == 1 else outputs.argmax(-1)
        differ = int((answered(expected) != answered(got)).sum())
        return f"{differ} of {len(expected)} classes differ" if differ else ""

    def check_answer(self, answer, handler):
        """A 200 answer → nothing; an assertion fails where it breaks the documented shape."""
        assert set(answer) == {"label", "probability"} and answer["label"] in handler.labels
