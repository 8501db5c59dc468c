"""What the shared checks send a tabular family, and expect back: its sample, records of its own
test split, and near misses of them.

A family made by tools.new_family's tabular kinds names `EXAMPLES = TableExamples(...)` in its
families/<family>.py; harness.examples reads the hooks below from it (the list is there).
"""

import json
import math
import random

from handlers import handler_class
from handlers.messages import Request, field_names
from handlers.tabular import MAX_MAGNITUDE, MAX_RECORDS
from harness.examples import sample_body, tensor

JSON = "application/json"


class TableExamples:
    """A tabular family's examples, from its sample and the test split its load_splits gives."""

    # Tabular handlers compute in float64: a record's answer does not depend on its batch.
    TOLERANCE = 0.0
    GPU_TOLERANCE = 1e-4

    def __init__(self, family, load_splits):
        self.family = family
        self.load_splits = load_splits
        self.features = handler_class(family).features
        # The field the bad-input tests write odd values into.
        self.BAD_INPUT_FIELD = self.features[0]

    def sample(self) -> dict:
        """The family's sample record, a fresh copy each time."""
        return json.loads(sample_body(self.family)[0])

    def evaluation_splits(self):
        """→ the family's splits (seed 0); a brought model is scored on their test split, and
        their classes are its labels (tools.bring_model)."""
        return self.load_splits(seed=0, log=lambda line: None)

    def records(self, seed=0) -> list:
        """The test split's rows → records {feature: value}."""
        splits = self.load_splits(seed=seed, log=lambda line: None)
        return [dict(zip(self.features, row)) for row in splits.test_x.double().tolist()]

    def body(self, value) -> bytes:
        return json.dumps(value).encode()

    def bodies(self, checkpoint, size):
        """Test-split records, alone or in lists of up to 20; the bad ones hold a string or miss
        a field."""
        records = self.records(checkpoint["data"]["split"]["seed"])
        pick = random.Random(0)
        good = [(self.body(records[index % len(records)] if index % 4 else
                           pick.sample(records, min(len(records), pick.randint(2, 20)))), JSON)
                for index in range(size)]
        first = self.BAD_INPUT_FIELD
        bad = [(self.body({**records[0], first: "high"}), JSON),
               (self.body({k: v for k, v in records[0].items() if k != first}), JSON)]
        return good, bad

    def good_requests(self) -> list:
        """Eight different good requests: the sample, and test-split records alone and in lists."""
        records = self.records()
        return [(self.body(self.sample()), JSON),
                *[(self.body(records[index % len(records)]), JSON) for index in range(4)],
                *[(self.body(records[:size]), JSON) for size in (2, 3, 5)]]

    @property
    def BAD_INPUT_ANSWERS(self) -> dict:
        """How the cases every family gets are answered here (blanks in braces filled by the test)."""
        field = self.BAD_INPUT_FIELD
        return {
            "JSON body that is {kind}": (
                400, "JSON body must be a record or a list of records, not {kind}"),
            "JSON body that is an array": (400, "record 0 must be an object, not a number"),
            "missing fields": (400, f"JSON body is missing field(s): {field_names(self.features)}"),
            "field that is {kind}": (400, f'field "{field}" must be a number, not {{kind}}'),
            "field that is {literal}": (400, f'field "{field}" is {{what}}; send a finite number'),
            "a 5,000,000-character field": (400, f'field "{field}" must be a number, not a string'),
        }

    def bad_inputs(self) -> dict:
        """The cases only tabular families get: lists too long or empty, bad records in a list, a
        field missing, unknown, of the wrong type or too large."""
        record, last = self.sample(), self.features[-1]
        return {name: (self.body(body), JSON, 400, message) for name, body, message in [
            ("1,001 records", [record] * (MAX_RECORDS + 1),
             f"list holds {MAX_RECORDS + 1:,} records; the limit is {MAX_RECORDS:,} per request"),
            ("an empty list", [], f"empty list: send from 1 to {MAX_RECORDS:,} records"),
            ("a bad record in a list", [record, {**record, last: "high"}],
             f'record 1: field "{last}" must be a number, not a string'),
            ("a record without its last field", {k: v for k, v in record.items() if k != last},
             f"is missing field(s): {last}"),
            ("a value beyond the largest accepted", {**record, last: MAX_MAGNITUDE * 10},
             f'field "{last}" is beyond'),
            ("a number as a string", {**record, last: str(record[last])},
             f'field "{last}" must be a number, not a string'),
        ]}

    def refusal_reasons(self) -> list:
        """[(bad request, the reason its refusal is counted under)]."""
        record, first = self.sample(), self.BAD_INPUT_FIELD
        return [(Request(b"[]", JSON), "empty_body"),
                (Request(self.body({**record, first: "high"}), JSON), "wrong_type"),
                (Request(self.body({**record, first: 1e300}), JSON), "out_of_range"),
                (Request(self.body([record] * (MAX_RECORDS + 1)), JSON), "too_large")]

    def metered_requests(self) -> list:
        """[(body, content type, rows a valid one holds, reason a bad one is refused for)]."""
        record = self.sample()
        return [(self.body(record), JSON, 1, None), (self.body([record] * 3), JSON, 3, None),
                (b"[]", JSON, 0, "empty_body"),
                (self.body({**record, self.BAD_INPUT_FIELD: "high"}), JSON, 0, "wrong_type")]

    def plain_examples(self) -> list:
        """Two plain JSON bodies: the sample record and the first test-split record."""
        return [self.sample(), self.records()[0]]

    def v2_inputs(self, first, second) -> list:
        return [tensor("features", [2, len(self.features)], "FP64",
                       [[example[name] for name in self.features] for example in (first, second)])]

    def v2_outputs(self, first, second) -> list:
        if "prediction" in first:
            return [tensor("prediction", [2], "FP64", [first["prediction"], second["prediction"]])]
        return [tensor("label", [2], "BYTES", [first["label"], second["label"]]),
                tensor("probability", [2], "FP64", [first["probability"], second["probability"]])]

    @property
    def V2_WRONG_SHAPE(self) -> list:
        return [2, len(self.features) - 1]  # a field short

    def split_inputs(self, handler) -> list:
        """Handler → one model input per test-split record."""
        splits = self.load_splits(seed=handler.checkpoint["data"]["split"]["seed"],
                                  log=lambda line: None)
        return [row.to(handler.model_dtype) for row in splits.test_x.split(1)]

    def agreement(self, expected, got) -> str:
        """Eager and format outputs → "" when they agree to 1e-3 relative."""
        relative = ((got.double() - expected.double()).abs()
                    / expected.double().abs().clamp_min(1e-12)).max()
        return f"largest relative difference {float(relative):.2e}" if relative > 1e-3 else ""

    def property_payloads(self, make):
        """The property tests' strategies → near-miss records, lists of them, and lists around
        the records limit."""
        st = make.st
        record = make.near_misses(self.sample(), st.one_of(
            make.odd_values(), st.floats(-2 * MAX_MAGNITUDE, 2 * MAX_MAGNITUDE), make.numbers(),
            make.json_scalars()))
        many = st.sampled_from([0, 1, MAX_RECORDS, MAX_RECORDS + 1]).map(
            lambda n: [self.sample()] * n)
        return st.one_of(record, st.lists(st.one_of(record, make.json_scalars()), max_size=4),
                         many)

    def check_answer(self, answer, handler):
        """A 200 answer → nothing; an assertion fails where it breaks the documented shape."""
        answers = answer if isinstance(answer, list) else [answer]
        assert 1 <= len(answers) <= MAX_RECORDS
        for one in answers:
            if "prediction" in one:
                assert set(one) == {"prediction"} and math.isfinite(one["prediction"])
            else:
                assert set(one) == {"label", "probability"} and one["label"] in handler.labels
