"""breast_cancer: what the tools and tests send it and expect back, drawn from its own test split."""

from families.tables import TableExamples
from training.breast_cancer import load_splits

# Records of the test split, and near misses of them, for every shared check (bad input,
# batches, protocols, the benchmark, reliability). A hook of harness/examples.py defined in this
# module comes first: add one to send breast_cancer something else.
EXAMPLES = TableExamples("breast_cancer", load_splits)
