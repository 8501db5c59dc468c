"""Serving for models that read named numbers: one JSON record, or a list of them → one answer each.

A family of this kind (tools.new_family's tabular kinds) subclasses TabularClassifierHandler or
TabularRegressorHandler and names its `features`, the columns in the model's input order.
"""

import json
import math
from dataclasses import dataclass

import torch

from handlers.base import ModelHandler
from handlers.classification import likeliest_class
from handlers.messages import InvalidInput, Request, json_object, json_type, json_value
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


def column_value(name: str, value, where: str) -> float:
    """One field of a record → its value as a float; raises InvalidInput naming the column."""
    # bool is an int in Python, but true/false is no measurement.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f'{where}field "{name}" must be a number, not {json_type(value)}',
                           reason="wrong_type")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f'{where}field "{name}" is {"NaN" if math.isnan(value) else "infinite"}'
                           "; send a finite number", reason="out_of_range")
    # Compared before converting: a huge JSON integer does not fit a float.
    if abs(value) > MAX_MAGNITUDE:
        raise InvalidInput(f'{where}field "{name}" is beyond ±{MAX_MAGNITUDE:,.0f}',
                           reason="out_of_range")
    return float(value)


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

    def record_values(self, record, index=None) -> list:
        """One record (and its index in a list) → its values in column order; raises InvalidInput
        naming the record and the missing, unknown or bad column."""
        what = "JSON body" if index is None else f"record {index}"
        json_object(record, self.features, required=self.features, what=what)
        where = "" if index is None else f"record {index}: "
        return [column_value(name, record[name], where) for name in self.features]

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
        return Request(json.dumps(dict.fromkeys(self.features, 0)).encode(), "application/json")

    def example_input(self) -> torch.Tensor:
        """→ one record's model input, [1, len(features)]."""
        return self.preprocess(Records([[0.0] * len(self.features)], as_list=False))

    def preprocess(self, records: Records) -> torch.Tensor:
        """Records → [n, len(features)] raw values, one row per record."""
        return torch.tensor(records.rows, dtype=self.model_dtype)

    def postprocess(self, records: Records, outputs: torch.Tensor):
        """[n, …] outputs → one answer for a lone record, or a list of them in request order."""
        answers = [self.answer_for(output) for output in outputs]
        return answers if records.as_list else answers[0]

    def answer_for(self, output: torch.Tensor) -> dict:
        """One record's output → its answer."""
        raise NotImplementedError


class TabularClassifierHandler(TabularHandler):
    """Answers {"label", "probability"}: the likeliest class and its probability."""

    v2_outputs = (Tensor("label", ("BYTES",)), Tensor("probability", ("FP64",)))

    def answer_for(self, output: torch.Tensor) -> dict:
        return likeliest_class(output, self.labels)


class TabularRegressorHandler(TabularHandler):
    """Answers {"prediction": number} on the target's own scale."""

    v2_outputs = (Tensor("prediction", ("FP64",)),)

    def answer_for(self, output: torch.Tensor) -> dict:
        return {"prediction": round(float(output), PREDICTION_DECIMALS)}
