"""diabetes_mlp's record checks, preprocessing and postprocessing as they were before issue 15,
frozen: the "before" side of bench.handler_speed, and the reference that
tests/test_diabetes_mlp_reference.py holds the handler's answers and refusals to.

The functions below are verbatim copies of the old code, kept on purpose.
"""

import torch

from bench.handlers_before.pipeline import PipelineBefore, json_value
from handlers.diabetes_mlp import (BEYOND_LIMIT, DECIMALS, MAX_MAGNITUDE, MAX_RECORDS, USAGE,
                                   DiabetesMLPHandler)
from handlers.messages import InvalidInput, Request, json_object, json_type
from handlers.tabular import Records, column_value
from models.diabetes_mlp import FEATURES


def feature_value(name: str, value, where: str) -> float:
    """One field of a record → its value as a float; raises InvalidInput naming the field (the
    field check is the same today: handlers.tabular.column_value)."""
    return column_value(name, value, where, MAX_MAGNITUDE, BEYOND_LIMIT)


def record_values(record, index=None) -> list:
    """One record {"age": 59, …, "s6": 87} (and its index in a list) → its ten values as floats
    in FEATURES order; raises InvalidInput naming the record and the missing, unknown or bad field."""
    what = "JSON body" if index is None else f"record {index}"
    json_object(record, FEATURES, required=FEATURES, what=what)
    where = "" if index is None else f"record {index}: "
    return [feature_value(name, record[name], where) for name in FEATURES]


class DiabetesMLPHandlerBefore(PipelineBefore, DiabetesMLPHandler):
    """The diabetes_mlp handler with its decode, preprocess and postprocess steps as they were:
    every field through the precise checks, one request at a time."""

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



HANDLER = DiabetesMLPHandlerBefore  # what bench.handler_speed times as diabetes_mlp's "before"
