"""Row cleaning for array data sets: missing values and duplicates, with counts to report."""

from dataclasses import dataclass

import numpy as np


@dataclass
class CleaningReport:
    """How many rows each cleaning step removed."""

    rows_in: int
    missing: int = 0
    duplicates: int = 0
    conflicting: int = 0
    rows_out: int = 0

    def __str__(self):
        return (f"cleaning: {self.rows_in} rows in, {self.missing} with missing values dropped, "
                f"{self.duplicates} duplicates dropped, {self.conflicting} with conflicting labels "
                f"dropped, {self.rows_out} rows kept")


def clean_rows(features: np.ndarray, labels: np.ndarray):
    """(features [N, D], labels [N]) → (features, labels, CleaningReport) without bad rows.

    Drops rows with a missing or non-finite value, exact duplicates (keeping the
    first), and every copy of an input that appears with more than one label.
    """
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    report = CleaningReport(rows_in=len(features))

    finite = np.isfinite(features).all(axis=1)
    if labels.dtype.kind == "f":
        finite &= np.isfinite(labels)
    else:
        finite &= np.array([label is not None and label == label for label in labels], dtype=bool)
    report.missing = int((~finite).sum())
    features, labels = features[finite], labels[finite]

    _, first, groups = np.unique(features, axis=0, return_index=True, return_inverse=True)
    groups = groups.reshape(-1)
    labels_per_group = {}
    for group, label in zip(groups, labels):
        labels_per_group.setdefault(group, set()).add(label)
    conflicting = np.array([len(labels_per_group[g]) > 1 for g in groups], dtype=bool)
    keep = np.zeros(len(features), dtype=bool)
    keep[first] = True
    report.conflicting = int(conflicting.sum())
    report.duplicates = int((~keep & ~conflicting).sum())
    keep &= ~conflicting

    report.rows_out = int(keep.sum())
    # np.unique sorted the groups; keep the data set's original row order.
    return features[keep], labels[keep], report
