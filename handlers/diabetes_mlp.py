"""diabetes_mlp serving: one JSON record, or a list of them → predicted disease progression."""

import itertools
import json
import math
import operator
from dataclasses import dataclass

import numpy as np
import torch

from handlers.base import ModelHandler
from handlers.messages import (JSON_CONTENT_TYPE, InvalidInput, Request, json_object, json_type,
                               json_value)
from handlers.protocols import Tensor
from models.diabetes_mlp import FEATURES

# Records per request: a list this long is checked and predicted in about
# 10 ms on one core (JSON of about 110 kB), so one request cannot hold up the
# others in its batch for long.
MAX_RECORDS = 1000
# One decimal: the target is a whole-number score and the model is off by
# about 50 on average, so more digits would only be noise.
DECIMALS = 1
# Refused beyond this size: no feature comes near it in any unit (cholesterol
# in µg/dL is about 2e5), and it keeps the model far from overflow.
MAX_MAGNITUDE = 1e6

USAGE = (f"send one JSON record with the number fields {', '.join(FEATURES)}, "
         f"or a list of up to {MAX_RECORDS:,} such records")


@dataclass
class Records:
    """One request's records as rows of ten floats, and whether it came as a list."""

    rows: list
    as_list: bool


def feature_value(name: str, value, where: str) -> float:
    """One field of a record → its value as a float; raises InvalidInput naming the field."""
    # bool is an int in Python, but true/false is no measurement.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f'{where}field "{name}" must be a number, not {json_type(value)}',
                           reason="wrong_type")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f'{where}field "{name}" is {"NaN" if math.isnan(value) else "infinite"}'
                           "; send a finite number", reason="out_of_range")
    # Compared before converting: a huge JSON integer does not fit a float.
    if abs(value) > MAX_MAGNITUDE:
        raise InvalidInput(f'{where}field "{name}" is beyond ±{MAX_MAGNITUDE:,.0f}; no '
                           "measurement of this feature comes near it", reason="out_of_range")
    return float(value)


NUMBER_TYPES = frozenset({int, float})  # what a JSON number decodes to (bool is neither)
FEATURES_IN_ORDER = operator.itemgetter(*FEATURES)  # a record → its values in FEATURES order


def plain_record_values(record):
    """One record → its ten values as floats in FEATURES order when it is what nearly every client
    sends (exactly the ten fields, each a finite JSON number within ±MAX_MAGNITUDE), else None.

    A check of the whole record at once, several times quicker than
    record_values' field by field, which it leaves the rest to, and whose
    answers it gives: a number in range is taken by both as float(value).
    """
    if type(record) is not dict or len(record) != len(FEATURES):
        return None
    try:
        values = FEATURES_IN_ORDER(record)  # with as many fields, these are all of them
    except KeyError:
        return None
    if not NUMBER_TYPES.issuperset(map(type, values)):
        return None
    try:
        values = list(map(float, values))
    except OverflowError:  # an integer too long for a float: out of range
        return None
    total = sum(values)  # NaN when any value is: min and max can step over a NaN
    if -MAX_MAGNITUDE <= min(values) and max(values) <= MAX_MAGNITUDE and total == total:
        return values
    return None


def record_values(record, index=None) -> list:
    """One record {"age": 59, …, "s6": 87} (and its index in a list) → its ten values as floats
    in FEATURES order; raises InvalidInput naming the record and the missing, unknown or bad field."""
    values = plain_record_values(record)
    if values is not None:
        return values
    what = "JSON body" if index is None else f"record {index}"
    json_object(record, FEATURES, required=FEATURES, what=what)
    where = "" if index is None else f"record {index}: "
    return [feature_value(name, record[name], where) for name in FEATURES]


class DiabetesMLPHandler(ModelHandler):
    family = "diabetes_mlp"
    sample = ("samples/patient.json", "application/json")
    # KServe v2: one row of the ten measurements per example, in FEATURES order.
    v2_inputs = (Tensor("features", ("FP64", "FP32"), (len(FEATURES),), columns=FEATURES),)
    v2_outputs = (Tensor("prediction", ("FP64",)),)

    # float32 sums differ in the last bit with the number of rows in a batch,
    # enough to flip a rounded answer now and then; in float64 a record's
    # answer does not depend on the requests it shares a batch with.
    model_dtype = torch.float64

    def example_input(self) -> torch.Tensor:
        """→ one record's model input, [1, 10] float64."""
        return self.preprocess(Records([[1.0] * len(FEATURES)], as_list=False))

    def warm_up_request(self) -> Request:
        """→ a JSON body of one record, every measurement 1."""
        return Request(json.dumps(dict.fromkeys(FEATURES, 1.0)).encode(), JSON_CONTENT_TYPE)

    def decode(self, request: Request) -> Records:
        """JSON record or list of records → Records; raises InvalidInput naming the field and record."""
        try:
            value = json_value(request)
        except InvalidInput as error:
            raise InvalidInput(f"{error.message}; {USAGE}", reason=error.reason) from None
        if isinstance(value, dict):
            return Records([record_values(value)], as_list=False)
        if not isinstance(value, list):
            raise InvalidInput(f"JSON body must be a record or a list of records, "
                               f"not {json_type(value)}; {USAGE}", reason="wrong_type")
        if not value:
            raise InvalidInput(f"empty list: send from 1 to {MAX_RECORDS:,} records",
                               reason="empty_body")
        if len(value) > MAX_RECORDS:
            raise InvalidInput(f"list holds {len(value):,} records; the limit is {MAX_RECORDS:,} "
                               f"per request", reason="too_large")
        return Records([record_values(record, index) for index, record in enumerate(value)],
                       as_list=True)

    def preprocess(self, records: Records) -> torch.Tensor:
        """Records → [n, 10] float64 raw features, one row per record."""
        return self.preprocess_batch([records])[0]

    def preprocess_batch(self, requests: list) -> list:
        """Each request's Records → its [n, 10] float64 raw features: views of one tensor built
        from the rows of the whole batch."""
        sizes = [len(records.rows) for records in requests]
        values = itertools.chain.from_iterable(row for records in requests for row in records.rows)
        batch = np.fromiter(values, dtype=np.float64, count=sum(sizes) * len(FEATURES))
        return list(torch.from_numpy(batch.reshape(-1, len(FEATURES))).split(sizes))

    def postprocess(self, records: Records, predictions: torch.Tensor):
        """[n] predictions → {"prediction": x} for a lone record, or a list of them in request order."""
        return self.postprocess_batch([records], predictions, [len(predictions)])[0]

    def postprocess_batch(self, requests: list, predictions: torch.Tensor, sizes: list) -> list:
        """Each request's Records, the batch's [N] predictions and each request's rows → each one's
        `postprocess` answer, the predictions read out of the tensor at once."""
        rounded = [{"prediction": round(p, DECIMALS)} for p in predictions.tolist()]
        answers, start = [], 0
        for records, size in zip(requests, sizes):
            answers.append(rounded[start:start + size] if records.as_list else rounded[start])
            start += size
        return answers


HANDLER = DiabetesMLPHandler  # what the TorchServe adapter builds for a diabetes_mlp checkpoint
