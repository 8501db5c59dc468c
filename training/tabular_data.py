"""A tabular family's data: its CSV read, checked, cleaned and split, with what it was recorded."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from training.cleaning import clean_rows
from training.splits import Splits
from training.tables import (DataError, class_names, file_sha256, labels_of, numbers, read_csv,
                             split_rows, target_bins)


@dataclass
class TableSplits(Splits):
    """Raw feature rows [N, F] (float32) and targets for each split: class ids [N] (int64) for a
    classifier, values [N] (float32) for a regressor; `classes` names the class ids."""

    classes: list


def load_table_splits(path, features, target, classify, seed=0, log=print) -> TableSplits:
    """A CSV of `features` columns and a `target` column → cleaned splits, stratified by class
    (or by target quantile); raises DataError when the data cannot be trained on."""
    frame = read_csv(path, [target, *features])
    extra = [name for name in frame.columns if name not in features and name != target]
    if extra:
        raise DataError(f"{path}: column(s) {', '.join(map(repr, extra))} are not among the "
                        f"model's features; remove them, or add them to FEATURES in the model "
                        "module and retrain")
    values = numbers(frame, features, path)
    targets = labels_of(frame, target, path) if classify else numbers(frame, [target], path)[:, 0]
    values, targets, report = clean_rows(values, targets)
    log(str(report))
    if classify:
        classes = class_names(targets, path, target)
        targets = np.array([classes.index(label) for label in targets], dtype=np.int64)
        strata = targets
    else:
        if len(targets) < 9:
            raise DataError(f"{path}: {len(targets)} usable rows; a regressor needs at least 9 "
                            "(three for each of training, validation and testing)")
        classes, strata = [target], target_bins(targets)
    train, validation, test = split_rows(strata, seed)
    x = torch.from_numpy(values.astype(np.float32))
    y = torch.from_numpy(targets if classify else targets.astype(np.float32))
    data_info = {
        "source": str(Path(path)),
        "sha256": file_sha256(path),
        "rows": int(report.rows_in),
        "features": list(features),
        "target": target,
        "cleaning": vars(report),
        "split": {"train": len(train), "validation": len(validation), "test": len(test),
                  "seed": seed, "stratified_by": "class" if classify else "target quantile"},
    }
    log(f"split: {len(train)} train, {len(validation)} validation, {len(test)} test (seed {seed})")
    return TableSplits(x[train], y[train], x[validation], y[validation], x[test], y[test],
                       data_info, classes)


def feature_statistics(train_x: torch.Tensor) -> dict:
    """Training-split feature rows → {"feature_mean", "feature_std"} per column, as plain floats;
    never computed from the other splits."""
    return {"feature_mean": train_x.double().mean(dim=0).tolist(),
            "feature_std": train_x.double().std(dim=0).tolist()}
