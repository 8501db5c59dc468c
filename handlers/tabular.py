"""Serving for models that read named numbers: one JSON record, or a list of them → one answer each.

A family of this kind (tools.new_family's tabular kinds) subclasses TabularClassifierHandler or
TabularRegressorHandler and names its `features`, the columns in the model's input order.
"""

import itertools
import json
import math
import operator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from handlers.base import ModelHandler
from handlers.classification import likeliest_class
from handlers.messages import (JSON_CONTENT_TYPE, InvalidInput, Request, json_object, json_type,
                               json_value)
from handlers.protocols import Tensor

# Records per request: a list this long is checked and predicted in milliseconds, so one request
# cannot hold up the others in its batch for long.
MAX_RECORDS = 1000
# Refused beyond this size: far past any measurement in its usual unit, and far from overflow.
MAX_MAGNITUDE = 1e9
PREDICTION_DECIMALS = 4


@dataclass
class Records:
    """One request's records as rows of floats in the model's column order, and whether it came
    as a list."""

    rows: list
    as_list: bool


NUMBER_TYPES = frozenset({int, float})  # what a JSON number decodes to (bool is neither)


def column_value(name: str, value, where: str, max_magnitude=MAX_MAGNITUDE, beyond="") -> float:
    """One field of a record → its value as a float; raises InvalidInput naming the column
    (`beyond`: what a value past ±max_magnitude is told, after the limit)."""
    # bool is an int in Python, but true/false is no measurement.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f'{where}field "{name}" must be a number, not {json_type(value)}',
                           reason="wrong_type")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f'{where}field "{name}" is {"NaN" if math.isnan(value) else "infinite"}'
                           "; send a finite number", reason="out_of_range")
    # Compared before converting: a huge JSON integer does not fit a float.
    if abs(value) > max_magnitude:
        raise InvalidInput(f'{where}field "{name}" is beyond ±{max_magnitude:,.0f}{beyond}',
                           reason="out_of_range")
    return float(value)


class RecordColumns:
    """The number columns a record must hold, in the model's input order, and the largest
    magnitude each may have: reads a record into its row of floats, or refuses it by name."""

    def __init__(self, features, max_magnitude=MAX_MAGNITUDE, beyond_limit=""):
        self.features = tuple(features)
        self.max_magnitude = max_magnitude
        self.beyond_limit = beyond_limit  # said after the limit to a value beyond it
        getter = operator.itemgetter(*self.features)
        # A record → its values in column order (a tuple, whatever the number of columns).
        self.in_order = getter if len(self.features) > 1 else lambda record: (getter(record),)

    def plain_values(self, record):
        """One record → its values as floats in column order when it is what nearly every client
        sends (exactly the columns, each a finite JSON number within ±max_magnitude), else None.

        A check of the whole record at once, several times quicker than `values`' field by
        field, which it leaves the rest to, and whose answers it gives: a number in range is
        taken by both as float(value).
        """
        if type(record) is not dict or len(record) != len(self.features):
            return None
        try:
            values = self.in_order(record)  # with as many fields, these are all of them
        except KeyError:
            return None
        if not NUMBER_TYPES.issuperset(map(type, values)):
            return None
        try:
            values = list(map(float, values))
        except OverflowError:  # an integer too long for a float: out of range
            return None
        total = sum(values)  # NaN when any value is: min and max can step over a NaN
        if -self.max_magnitude <= min(values) and max(values) <= self.max_magnitude and total == total:
            return values
        return None

    def values(self, record, index=None) -> list:
        """One record (and its index in a list) → its values in column order; raises InvalidInput
        naming the record and the missing, unknown or bad column."""
        values = self.plain_values(record)
        if values is not None:
            return values
        what = "JSON body" if index is None else f"record {index}"
        json_object(record, self.features, required=self.features, what=what)
        where = "" if index is None else f"record {index}: "
        return [column_value(name, record[name], where, self.max_magnitude, self.beyond_limit)
                for name in self.features]


class TabularHandler(ModelHandler):
    """A JSON record {column: number} or a list of up to MAX_RECORDS → [n, len(features)] rows."""

    features: tuple = ()  # the columns a record must hold, in the model's input order
    # float64 sums do not depend on how many rows share a batch, so a record's answer is the
    # same whoever it is batched with.
    model_dtype = torch.float64

    @property
    def usage(self) -> str:
        return (f"send one JSON record with the number columns {', '.join(self.features)}, "
                f"or a list of up to {MAX_RECORDS:,} such records")

    @property
    def v2_inputs(self):
        """KServe v2: one row of the columns per example, in the model's order."""
        return (Tensor("features", ("FP64", "FP32"), (len(self.features),), columns=self.features),)

    @cached_property
    def columns(self) -> RecordColumns:
        """How this family's records are read (a family may set its own)."""
        return RecordColumns(self.features)

    def record_values(self, record, index=None) -> list:
        """One record (and its index in a list) → its values in column order."""
        return self.columns.values(record, index)

    def decode(self, request: Request) -> Records:
        """JSON record or list of records → Records; raises InvalidInput naming column and record."""
        try:
            value = json_value(request)
        except InvalidInput as error:
            raise InvalidInput(f"{error.message}; {self.usage}", reason=error.reason) from None
        if isinstance(value, dict):
            return Records([self.record_values(value)], as_list=False)
        if not isinstance(value, list):
            raise InvalidInput(f"JSON body must be a record or a list of records, "
                               f"not {json_type(value)}; {self.usage}", reason="wrong_type")
        if not value:
            raise InvalidInput(f"empty list: send from 1 to {MAX_RECORDS:,} records",
                               reason="empty_body")
        if len(value) > MAX_RECORDS:
            raise InvalidInput(f"list holds {len(value):,} records; the limit is {MAX_RECORDS:,} "
                               "per request", reason="too_large")
        return Records([self.record_values(record, index) for index, record in enumerate(value)],
                       as_list=True)

    def warm_up_request(self) -> Request:
        """→ a record of zeros, one for each field."""
        return Request(json.dumps(dict.fromkeys(self.features, 0)).encode(), JSON_CONTENT_TYPE)

    def example_input(self) -> torch.Tensor:
        """→ one record's model input, [1, len(features)]."""
        return self.preprocess(Records([[0.0] * len(self.features)], as_list=False))

    def preprocess(self, records: Records) -> torch.Tensor:
        """Records → [n, len(features)] raw values, one row per record."""
        return self.preprocess_batch([records])[0]

    def preprocess_batch(self, requests: list) -> list:
        """Each request's Records → its [n, len(features)] raw values: views of one tensor built
        from the rows of the whole batch."""
        sizes = [len(records.rows) for records in requests]
        values = itertools.chain.from_iterable(row for records in requests for row in records.rows)
        batch = np.fromiter(values, dtype=np.float64, count=sum(sizes) * len(self.features))
        rows = torch.from_numpy(batch.reshape(-1, len(self.features))).to(self.model_dtype)
        return list(rows.split(sizes))

    def postprocess(self, records: Records, outputs: torch.Tensor):
        """[n, …] outputs → one answer for a lone record, or a list of them in request order."""
        return self.postprocess_batch([records], outputs, [len(outputs)])[0]

    def postprocess_batch(self, requests: list, outputs: torch.Tensor, sizes: list) -> list:
        """Each request's Records, the batch's outputs and each request's rows → each one's
        `postprocess` answer, the outputs read out of the tensor at once."""
        each = self.answers_for(outputs)
        answers, start = [], 0
        for records, size in zip(requests, sizes):
            answers.append(each[start:start + size] if records.as_list else each[start])
            start += size
        return answers

    def answers_for(self, outputs: torch.Tensor) -> list:
        """The batch's outputs → one answer per record."""
        raise NotImplementedError


class TabularClassifierHandler(TabularHandler):
    """Answers {"label", "probability"}: the likeliest class and its probability."""

    v2_outputs = (Tensor("label", ("BYTES",)), Tensor("probability", ("FP64",)))

    def answers_for(self, outputs: torch.Tensor) -> list:
        return [likeliest_class(output, self.labels) for output in outputs]


class TabularRegressorHandler(TabularHandler):
    """Answers {"prediction": number} on the target's own scale."""

    v2_outputs = (Tensor("prediction", ("FP64",)),)
    decimals = PREDICTION_DECIMALS

    def answers_for(self, outputs: torch.Tensor) -> list:
        return [{"prediction": round(value, self.decimals)} for value in outputs.reshape(-1).tolist()]
