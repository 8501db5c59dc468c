"""handlers.messages reads JSON as json.loads does: parsed_json gives the same value for every
text json.loads reads, and raises the same error, in the same words, for every text it refuses."""

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.messages import Request, media_type, parsed_json

JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=5), children, max_size=4)),
    max_leaves=12)
WHITE_SPACE = st.text(alphabet=" \t\n\r\x0b\x0c\u00a0", max_size=3)


def outcome(read, text):
    """What reading `text` gives: ("value", its JSON) or ("error", its type and message)."""
    try:
        value = read(text)
    except (ValueError, RecursionError) as error:
        return "error", type(error), str(error)
    # NaN is not equal to itself: compare the JSON it writes back.
    return "value", json.dumps(value, sort_keys=True)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(JSON_VALUES, WHITE_SPACE, WHITE_SPACE)
def test_a_value_with_any_white_space_around_reads_as_json_loads_reads_it(value, before, after):
    text = before + json.dumps(value) + after
    assert outcome(parsed_json, text) == outcome(json.loads, text)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(JSON_VALUES, st.integers(0, 40), st.text(max_size=3))
def test_a_broken_text_is_refused_as_json_loads_refuses_it(value, cut, spoiler):
    written = json.dumps(value)
    for text in (written[:cut], written + spoiler, spoiler + written, written[:cut] + spoiler):
        assert outcome(parsed_json, text) == outcome(json.loads, text)


def test_the_odd_texts_read_as_json_loads_reads_them():
    texts = ["", " ", "\ufeff{}", "[" * 100_000, "9" * 5000, "NaN", "-Infinity", '{"a": 1} {"b": 2}',
             "1 2", "\u00a0{}", '"\\ud800"', "[1,]", "{}\n\n", "\t[]"]
    for text in texts:
        assert outcome(parsed_json, text) == outcome(json.loads, text), text[:20]
    assert math.isnan(parsed_json("NaN"))


def test_the_media_type_drops_parameters_and_case():
    assert media_type(Request(b"x", "Application/JSON; charset=utf-8")) == "application/json"
    assert media_type(Request(b"x", None)) == ""
