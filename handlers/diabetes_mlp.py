"""diabetes_mlp serving: one JSON record, or a list of them → predicted disease progression."""

from handlers.tabular import MAX_RECORDS, RecordColumns, TabularRegressorHandler
from models.diabetes_mlp import FEATURES

# One decimal: the target is a whole-number score and the model is off by
# about 50 on average, so more digits would only be noise.
DECIMALS = 1
# Refused beyond this size: no feature comes near it in any unit (cholesterol
# in µg/dL is about 2e5), and it keeps the model far from overflow.
MAX_MAGNITUDE = 1e6
BEYOND_LIMIT = "; no measurement of this feature comes near it"

USAGE = (f"send one JSON record with the number fields {', '.join(FEATURES)}, "
         f"or a list of up to {MAX_RECORDS:,} such records")


COLUMNS = RecordColumns(FEATURES, MAX_MAGNITUDE, BEYOND_LIMIT)
# One record {"age": 59, …, "s6": 87} (and its index in a list) → its ten values as floats in
# FEATURES order; raises InvalidInput naming the record and the missing, unknown or bad field.
record_values = COLUMNS.values


class DiabetesMLPHandler(TabularRegressorHandler):
    family = "diabetes_mlp"
    sample = ("samples/patient.json", "application/json")
    features = FEATURES
    columns = COLUMNS
    usage = USAGE
    decimals = DECIMALS


HANDLER = DiabetesMLPHandler  # what the TorchServe adapter builds for a diabetes_mlp checkpoint
