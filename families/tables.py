"""What the shared checks send a tabular family, and expect back: records of its own test split.

A family made by tools.new_family's tabular kinds names `EXAMPLES = TableExamples(...)` in its
families/<family>.py; harness.examples reads the hooks below from it.
"""

import json
import random

from handlers import handler_class
from handlers.tabular import MAX_RECORDS
from harness.examples import tensor

JSON = "application/json"


class TableExamples:
    """A tabular family's examples, from the test split its training module's load_splits gives."""

    # Tabular handlers compute in float64: a record's answer does not depend on its batch.
    TOLERANCE = 0.0

    def __init__(self, family, load_splits):
        self.family = family
        self.load_splits = load_splits
        self.features = handler_class(family).features

    def records(self, seed=0) -> list:
        """The test split's rows → records {feature: value}."""
        splits = self.load_splits(seed=seed, log=lambda line: None)
        return [dict(zip(self.features, row)) for row in splits.test_x.double().tolist()]

    def bodies(self, checkpoint, size):
        """Test-split records, alone or in lists of up to 20; the bad ones hold a string or miss
        a column."""
        records = self.records(checkpoint["data"]["split"]["seed"])
        pick = random.Random(0)
        good = [(json.dumps(records[index % len(records)] if index % 4 else
                            pick.sample(records, min(len(records), pick.randint(2, 20)))).encode(),
                 JSON) for index in range(size)]
        first, *_ = self.features
        bad = [(json.dumps({**records[0], first: "high"}).encode(), JSON),
               (json.dumps({k: v for k, v in records[0].items() if k != first}).encode(), JSON)]
        return good, bad

    def plain_examples(self) -> list:
        """Two plain JSON bodies: the first two test-split records."""
        return self.records()[:2]

    def v2_inputs(self, first, second) -> list:
        return [tensor("features", [2, len(self.features)], "FP64",
                       [[example[name] for name in self.features] for example in (first, second)])]

    def v2_outputs(self, first, second) -> list:
        if "prediction" in first:
            return [tensor("prediction", [2], "FP64", [first["prediction"], second["prediction"]])]
        return [tensor("label", [2], "BYTES", [first["label"], second["label"]]),
                tensor("probability", [2], "FP64", [first["probability"], second["probability"]])]

    @property
    def V2_WRONG_SHAPE(self):
        return [2, len(self.features) - 1]  # a column short

    def split_inputs(self, handler) -> list:
        """Handler → one model input per test-split record."""
        splits = self.load_splits(seed=handler.checkpoint["data"]["split"]["seed"],
                                  log=lambda line: None)
        return [row.to(handler.model_dtype) for row in splits.test_x.split(1)]

    def check_answer(self, answer, handler):
        """A 200 answer → nothing; an assertion fails where it breaks the documented shape."""
        answers = answer if isinstance(answer, list) else [answer]
        assert 1 <= len(answers) <= MAX_RECORDS
        for one in answers:
            assert set(one) in ({"prediction"}, {"label", "probability"}), one
