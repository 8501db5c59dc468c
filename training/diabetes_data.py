"""Data preparation for diabetes_mlp: load, clean, split, and standardization statistics."""

import hashlib

import numpy as np
import sklearn
import torch
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

from models.diabetes_mlp import FEATURES
from training.cleaning import clean_rows
from training.splits import Splits

VALIDATION_SHARE = 0.15
TEST_SHARE = 0.15
# The target is split in this many quantile bins and each split takes its
# share of every bin, so a 66-row test split still spans mild to severe cases.
TARGET_BINS = 5


class DiabetesSplits(Splits):
    """Raw features [N, 10] in FEATURES order and targets [N], float32, for each split."""


def load_raw():
    """scikit-learn's diabetes data, unscaled → (features [442, 10] in FEATURES order, targets [442])."""
    data = load_diabetes(scaled=False)
    if tuple(data.feature_names) != FEATURES:
        raise ValueError(f"load_diabetes columns {data.feature_names} are not {list(FEATURES)}")
    return np.asarray(data.data, dtype=np.float64), np.asarray(data.target, dtype=np.float64)


def target_bins(targets: np.ndarray, bins=TARGET_BINS) -> np.ndarray:
    """Targets [N] → quantile bin ids [N], for splitting evenly across the target's range."""
    edges = np.quantile(targets, np.linspace(0, 1, bins + 1)[1:-1])
    return np.digitize(targets, edges)


def split_rows(targets: np.ndarray, seed: int):
    """Targets [N] → (train, val, test) index arrays, stratified by target quantile, reproducible by seed."""
    index = np.arange(len(targets))
    bins = target_bins(targets)
    rest, test = train_test_split(index, test_size=TEST_SHARE, stratify=bins, random_state=seed)
    val_of_rest = VALIDATION_SHARE / (1.0 - TEST_SHARE)
    train, val = train_test_split(rest, test_size=val_of_rest, stratify=bins[rest],
                                  random_state=seed)
    return train, val, test


def standardization_stats(train_x: torch.Tensor, train_y: torch.Tensor) -> dict:
    """Training-split features and targets → per-feature and target mean/std, as plain floats.

    Never computed from other splits. A constant feature gets std 1, not 0.
    """
    feature_std = train_x.std(dim=0)
    return {
        "feature_mean": [float(m) for m in train_x.mean(dim=0)],
        "feature_std": [float(s) if s > 0 else 1.0 for s in feature_std],
        "target_mean": float(train_y.mean()),
        "target_std": float(train_y.std()),
    }


def observed_ranges(features: torch.Tensor) -> dict:
    """Features [N, 10] → {name: [min, max]}: what the model has seen, for the docs, never enforced."""
    low, high = features.min(dim=0).values, features.max(dim=0).values
    return {name: [float(a), float(b)] for name, a, b in zip(FEATURES, low, high)}


def load_diabetes_splits(seed=0, log=print) -> DiabetesSplits:
    """scikit-learn diabetes → cleaned train/validation/test splits of raw features and targets."""
    features, targets = load_raw()
    features, targets, report = clean_rows(features, targets)
    log(str(report))

    train, val, test = split_rows(targets, seed)
    x = torch.from_numpy(features.astype(np.float32))
    y = torch.from_numpy(targets.astype(np.float32))
    data_info = {
        "source": "sklearn.datasets.load_diabetes(scaled=False)",
        "sklearn_version": sklearn.__version__,
        "sha256": hashlib.sha256(features.tobytes() + targets.tobytes()).hexdigest(),
        "rows": int(len(targets)),
        "features": list(FEATURES),
        "cleaning": vars(report),
        "split": {"train": len(train), "validation": len(val), "test": len(test), "seed": seed,
                  "stratified_by": f"target quantile ({TARGET_BINS} bins)"},
    }
    log(f"split: {len(train)} train, {len(val)} validation, {len(test)} test (seed {seed})")
    return DiabetesSplits(x[train], y[train], x[val], y[val], x[test], y[test], data_info)
