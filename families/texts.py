"""What the shared checks send a text family, and expect back: its sample, texts of its own test
split, and near misses of them.

A family made by tools.new_family's text kind names `EXAMPLES = TextExamples(...)` in its
families/<family>.py; harness.examples reads the hooks below from it (the list is there).
"""

import json

from families.outputs import classes_agree
from handlers import handler_class
from handlers.messages import Request
from harness.examples import sample_body, tensor

JSON = "application/json"
TEXT = "text/plain"


class TextExamples:
    """A text family's examples, from its sample and the test split its load_splits gives."""

    # A float32 model may round a probability's 4th decimal otherwise in another batch.
    TOLERANCE = 1e-4
    GPU_TOLERANCE = 1e-4
    BAD_INPUT_FIELD = "text"  # the field the bad-input tests write odd values into

    def __init__(self, family, load_splits):
        self.family = family
        self.load_splits = load_splits
        self.max_text_chars = handler_class(family).max_text_chars

    def sample(self) -> str:
        return sample_body(self.family)[0].decode()

    def texts(self, seed=0) -> list:
        return self.load_splits(seed=seed, log=lambda line: None).test_texts

    def bodies(self, checkpoint, size):
        """Test-split texts, as text/plain and as JSON; the bad ones are too long or miss "text"."""
        texts = self.texts(checkpoint["data"]["split"]["seed"])
        good = [(text.encode(), TEXT) if index % 2 else (json.dumps({"text": text}).encode(), JSON)
                for index, text in ((i, texts[i % len(texts)]) for i in range(size))]
        bad = [(b"x" * (self.max_text_chars + 1), TEXT), (b'{"txt": "fine"}', JSON)]
        return good, bad

    def good_requests(self) -> list:
        """Eight different good requests: the sample and seven test-split texts, as text/plain."""
        texts = self.texts()
        return [(text.encode(), TEXT)
                for text in [self.sample(), *[texts[i % len(texts)] for i in range(7)]]]

    @property
    def BAD_INPUT_ANSWERS(self) -> dict:
        """How the cases every family gets are answered here (blanks in braces filled by the test)."""
        limit = self.max_text_chars
        return {
            # A body that is not JSON is the text itself, so it must be UTF-8 text.
            **{case: (400, f"body is not valid UTF-8 text: byte {byte} at position 0")
               for case, byte in [("random bytes", "0xcd"), ("invalid UTF-8 text", "0xff"),
                                  ("image sent as text/plain", "0x89")]},
            # Any body that does not start like JSON is read as the text: answered as one.
            "review sent as application/octet-stream": (200, TEXT),
            "JSON body that is {kind}": (
                400, 'JSON body must be an object like {{"text": "..."}}, not {kind}'),
            "missing fields": (400, "JSON body is missing field(s): text"),
            "field that is {kind}": (400, '"text" must be a string, not {kind}'),
            "field that is {literal}": (400, '"text" must be a string, not a number'),
            "a 5,000,000-character field": (
                400, f"text is 5,000,000 characters long; the limit is {limit:,}"),
        }

    def bad_inputs(self) -> dict:
        """The cases only text families get: a text one character too long, one of white space."""
        limit = self.max_text_chars
        return {"a text one character too long": (
                    b"a" * (limit + 1), TEXT, 400,
                    f"text is {limit + 1:,} characters long; the limit is {limit:,}"),
                "only white space": (" \t\n\u00a0\u200b ".encode(), TEXT, 400,
                                     "text is empty or only white space")}

    def refusal_reasons(self) -> list:
        """[(bad request, the reason its refusal is counted under)]."""
        return [(Request(b"", TEXT), "empty_body"), (Request(b"  \n ", TEXT), "empty_body"),
                (Request(b'{"text": 5}', JSON), "wrong_type"),
                (Request(b'{"text":', JSON), "malformed_json"),
                (Request(b'{"review": "fine"}', JSON), "missing_field"),
                (Request(b"\xff\xfe bad", TEXT), "undecodable"),
                (Request(b"a" * (self.max_text_chars + 1), TEXT), "too_large")]

    def metered_requests(self) -> list:
        """[(body, content type, rows a valid one holds, reason a bad one is refused for)]."""
        return [*[(text.encode(), TEXT, 1, None) for text in [self.sample(), *self.texts()[:3]]],
                (b"", TEXT, 0, "empty_body"), (b'{"text": 5}', JSON, 0, "wrong_type")]

    def plain_examples(self) -> list:
        """Two plain JSON bodies: the sample and the first test-split text."""
        return [{"text": self.sample()}, {"text": self.texts()[0]}]

    def v1_instances(self, first, second) -> list:
        return [first["text"], second]  # a bare string is the text

    def v2_inputs(self, first, second) -> list:
        return [tensor("text", [2], "BYTES", [first["text"], second["text"]])]

    def v2_outputs(self, first, second) -> list:
        return [tensor("label", [2], "BYTES", [first["label"], second["label"]]),
                tensor("probability", [2], "FP32", [first["probability"], second["probability"]])]

    def split_inputs(self, handler) -> list:
        """Handler → one model input per test-split text."""
        return [handler.preprocess(text)
                for text in self.texts(handler.checkpoint["data"]["split"]["seed"])]

    def agreement(self, expected, got) -> str:
        """Eager and format outputs → "" when every answered class agrees."""
        return classes_agree(expected, got)

    def property_payloads(self, make):
        """The property tests' strategies → texts of any length around the limit, and near-miss
        JSON."""
        st, limit = make.st, self.max_text_chars
        texts = st.one_of(st.text(st.characters(codec="utf-8"), max_size=limit + 100),
                          st.text(max_size=40),
                          st.integers(limit - 10, limit + 10).map(
                              lambda n: "word " * (n // 5) + "x" * (n % 5)))
        return st.one_of(texts, make.near_misses({"text": self.sample()},
                                                 st.one_of(texts, make.odd_values())))

    def check_answer(self, answer, handler):
        """A 200 answer → nothing; an assertion fails where it breaks the documented shape."""
        assert set(answer) == {"label", "probability"} and answer["label"] in handler.labels
        assert 1 / len(handler.labels) <= answer["probability"] <= 1.0
