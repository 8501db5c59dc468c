"""sentiment_rnn: test-split reviews as text and JSON, and what the tools compare them by."""

import json

from handlers.messages import Request
from harness.examples import sample_body, tensor
from harness.settings import ROOT
from models.sentiment_rnn import MAX_TEXT_CHARS
from training.sentiment_data import load_sentiment_splits

# The float32 model can round the 4th decimal of a probability differently when a
# request shares its batch with others; on a GPU, one unit of the last decimal shown.
TOLERANCE = 1e-4
GPU_TOLERANCE = 1e-4
# A label is only exact when the model is not on the fence: texts whose
# probability lies this close to 0.5 are left out of the mix.
LABEL_MARGIN = 0.01
BATCH_SETTINGS = [(1, 0, "eager"), (8, 2, "eager"), (16, 2, "eager"), (16, 5, "eager")]
SUBJECT_OF = ("metrics",)  # the cross-family tests that need one model and take this one
# Packed sequences do not trace: the GRU stays eager, compiled or int8.
REFUSED_FORMATS = {"aoti": "cannot be exported"}
JSON = "application/json"

# Written by hand: none is a row of the data set (tests/test_sentiment_rnn_model.py checks);
# they cover negation, "never", contrast and words the data never uses. The model,
# handler, server and explanation tests read them; the model's quality is measured on
# the larger hand-written set in tests/test_sentiment_rnn_quality.py.
HAND_WRITTEN = [
    ("The soundtrack was wonderful and the acting was superb.", "positive"),
    ("The hotel room was dirty and the staff were rude.", "negative"),
    ("I would not recommend this laptop to my friends.", "negative"),
    ("Not bad at all, I really enjoyed the show.", "positive"),
    ("The battery life of this phone is not good.", "negative"),
    ("I was never disappointed by this little cafe.", "positive"),
    ("The trailer looked great but the movie was boring.", "negative"),
    ("The price was high but the food was excellent.", "positive"),
    ("It looked cheap, but it works perfectly.", "positive"),
    ("What a waste of money.", "negative"),
    ("The delivery was slow but the support team was very helpful.", "positive"),
    ("The acting was great, but the plot was terrible.", "negative"),
    ("The coffee here isn't good.", "negative"),
    ("Absolutely fantastic museum, we will definitely come back!", "positive"),
]


def bodies(checkpoint, size):
    """Test-split reviews, as text/plain and as JSON; the bad ones are too long or miss "text"."""
    data = checkpoint["data"]
    splits = load_sentiment_splits(ROOT / data["source"], seed=data["split"]["seed"],
                                   log=lambda line: None)
    good = [(text.encode(), "text/plain") if index % 2 else
            (json.dumps({"text": text}).encode(), JSON)
            for index, text in enumerate(splits.test_texts[:size])]
    bad = [(b"x" * 1001, "text/plain"), (b'{"txt": "fine"}', JSON)]
    return good, bad


def certain(call) -> bool:
    """Whether an answer is far enough from 0.5 for its label to be exact (refusals: True)."""
    return call.status != 200 or call.answer["probability"] >= 0.5 + LABEL_MARGIN


def split_inputs(handler) -> list:
    """Handler → one model input per test-split review."""
    seed = handler.checkpoint["data"]["split"]["seed"]
    texts = load_sentiment_splits(seed=seed, log=lambda _: None).test_texts
    return [handler.preprocess(text) for text in texts]


def agreement(expected, got) -> str:
    """Eager and format outputs → "" when every label agrees, else how many differ."""
    differ = int(((expected >= 0) != (got >= 0)).sum())
    return f"{differ} of {len(expected)} labels differ" if differ else ""


def plain_examples() -> list:
    """Two plain JSON bodies: the sample review and a bad one."""
    return [{"text": sample_body("sentiment_rnn")[0].decode()},
            {"text": "awful service, never again"}]


def v1_instances(first, second) -> list:
    return [first["text"], second]  # a bare string is the text


def v2_inputs(first, second) -> list:
    return [tensor("text", [2], "BYTES", [first["text"], second["text"]])]


def v2_outputs(first, second) -> list:
    return [tensor("label", [2], "BYTES", [first["label"], second["label"]]),
            tensor("probability", [2], "FP32", [first["probability"], second["probability"]])]


# For the property tests: bodies close to what the family reads, and its documented answer.

def property_payloads(make):
    """The property tests' strategies (`make`: hypothesis's st, near_misses, odd_values, …) →
    texts of any length around the limit, and near-miss JSON."""
    st = make.st
    texts = st.one_of(st.text(st.characters(codec="utf-8"), max_size=1100),
                      st.text(max_size=40),
                      st.integers(990, 1010).map(lambda n: "great " * (n // 6) + "x" * (n % 6)))
    return st.one_of(texts, make.near_misses({"text": "good"}, st.one_of(texts, make.odd_values())))


def check_answer(answer, handler):
    """A 200 answer → nothing; an assertion fails where it breaks the documented shape."""
    assert set(answer) == {"label", "probability"}
    assert answer["label"] in handler.labels and 0.5 <= answer["probability"] <= 1.0


# For the metrics tests (tests/test_metrics.py): refusals and the reasons they are counted under.

def refusal_reasons() -> list:
    """→ [(bad request, the reason its refusal is counted under)]."""
    return [
        (Request(b"", "text/plain"), "empty_body"),
        (Request(b"  \n ", "text/plain"), "empty_body"),
        (Request(b'{"text": 5}', JSON), "wrong_type"),
        (Request(b'{"text":', JSON), "malformed_json"),
        (Request(b'{"review": "fine"}', JSON), "missing_field"),
        (Request(b'{"text": "fine", "stars": 5}', JSON), "unknown_field"),
        (Request(b"\xff\xfe bad", "text/plain"), "undecodable"),
        (Request(b"a" * (MAX_TEXT_CHARS + 1), "text/plain"), "too_large"),
    ]


def metered_requests() -> list:
    """→ [(body, content type, rows a valid one holds, reason a bad one is refused for)]: what
    the metrics test sends a real TorchServe, valid and bad requests mixed."""
    texts = (b"a fine film", b"dull and slow", b"loved it", b"not for me", b"great cast")
    return [*[(text, "text/plain", 1, None) for text in texts],
            (b"", "text/plain", 0, "empty_body"), (b"   ", "text/plain", 0, "empty_body"),
            (b'{"text": 5}', JSON, 0, "wrong_type"), (b'{"text":', JSON, 0, "malformed_json"),
            (b"a" * (MAX_TEXT_CHARS + 1), "text/plain", 0, "too_large")]


# For the bad-input tests (tests/test_bad_input.py): the field odd values are written into, how
# this family answers the cases every family gets (blanks in braces filled by the test; a 200
# with None: the sample request's answer), and the cases only it gets.
BAD_INPUT_FIELD = "text"
BAD_INPUT_ANSWERS = {
    # A body that is not JSON is the review itself, so it must be UTF-8 text.
    **{case: (400, f"body is not valid UTF-8 text: byte {byte} at position 0") for case, byte in [
        ("random bytes", "0xcd"), ("invalid UTF-8 text", "0xff"),
        ("image sent as text/plain", "0x89")]},
    "review sent as application/octet-stream": (200, None),
    "JSON body that is {kind}": (400, 'JSON body must be an object like {{"text": "..."}}, not {kind}'),
    "missing fields": (400, "JSON body is missing field(s): text"),
    "field that is {kind}": (400, '"text" must be a string, not {kind}'),
    "field that is {literal}": (400, '"text" must be a string, not a number'),
    "a 5,000,000-character field": (
        400, "text is 5,000,000 characters long; the limit is 1,000"),
}


def bad_inputs() -> dict:
    """→ {case: (body, content type, status, message)}: a text too long, and one of white space."""
    return {"a text one character too long": (b"a" * 1001, "text/plain", 400,
                                              "text is 1,001 characters long; the limit is 1,000"),
            "only white space": (" \t\n\u00a0\u200b ".encode(), "text/plain", 400,
                                 "text is empty or only white space")}


def good_requests() -> list:
    """→ eight different good requests, (body, content type): reviews as text/plain."""
    texts = ["great camera", "awful service, never again", "not bad at all",
             sample_body("sentiment_rnn")[0].decode(), "the food was cold and bland",
             "I loved every page", "it broke in a week", "friendly staff and a fair price"]
    return [(text.encode(), "text/plain") for text in texts]
