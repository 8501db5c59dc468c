"""diabetes_mlp serving: one JSON record, or a list of them → predicted disease progression."""

import math
from dataclasses import dataclass

import torch

from handlers.base import ModelHandler
from handlers.messages import InvalidInput, Request, json_object, json_type, json_value
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


def record_values(record, index=None) -> list:
    """One record {"age": 59, …, "s6": 87} (and its index in a list) → its ten values as floats
    in FEATURES order; raises InvalidInput naming the record and the missing, unknown or bad field."""
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
        return torch.tensor(records.rows, dtype=torch.float64)

    def postprocess(self, records: Records, predictions: torch.Tensor):
        """[n] predictions → {"prediction": x} for a lone record, or a list of them in request order."""
        answers = [{"prediction": round(float(p), DECIMALS)} for p in predictions.tolist()]
        return answers if records.as_list else answers[0]


HANDLER = DiabetesMLPHandler  # what the TorchServe adapter builds for a diabetes_mlp checkpoint
