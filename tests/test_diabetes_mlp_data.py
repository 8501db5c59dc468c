"""diabetes_mlp data preparation: column order, cleaning counts, splits, training-only statistics."""

import numpy as np
import pytest
import torch

from models.diabetes_mlp import FEATURES
from training import diabetes_data
from training.diabetes_data import load_diabetes_splits, load_raw, standardization_stats


def test_raw_data_has_the_ten_features_in_model_order_unscaled():
    features, targets = load_raw()
    assert features.shape == (442, len(FEATURES)) and targets.shape == (442,)
    # Unscaled: ages in years and sex coded 1/2, not scikit-learn's scaled columns.
    assert 18 <= features[:, FEATURES.index("age")].min() < features[:, 0].max() <= 90
    assert set(np.unique(features[:, FEATURES.index("sex")])) == {1.0, 2.0}


def test_cleaning_drops_bad_rows_and_reports_each_count(monkeypatch):
    features, targets = load_raw()
    features = np.vstack([features, features[:1], features[1:4]])
    targets = np.concatenate([targets, targets[:1], targets[1:4]])
    features[-3, 2] = np.nan  # missing bmi
    features[-2, 4] = np.inf  # non-finite s1
    targets[-1] = np.nan  # missing target
    monkeypatch.setattr(diabetes_data, "load_raw", lambda: (features, targets))
    lines = []
    splits = load_diabetes_splits(seed=0, log=lines.append)

    cleaning = splits.data_info["cleaning"]
    assert (cleaning["rows_in"], cleaning["missing"], cleaning["duplicates"],
            cleaning["rows_out"]) == (446, 3, 1, 442)
    assert "3 with missing values dropped" in lines[0] and "1 duplicates dropped" in lines[0]
    kept = torch.cat([splits.train_x, splits.val_x, splits.test_x])
    assert len(kept) == splits.data_info["rows"] == 442 and torch.isfinite(kept).all()


@pytest.fixture(scope="module")
def splits():
    return load_diabetes_splits(seed=0, log=lambda line: None)


def test_splits_are_disjoint_cover_every_row_and_are_reproducible(splits):
    sizes = splits.data_info["split"]
    assert (sizes["train"], sizes["validation"], sizes["test"]) == (308, 67, 67)
    rows = torch.cat([splits.train_x, splits.val_x, splits.test_x])
    assert len(torch.unique(rows, dim=0)) == 442  # no row in two splits
    again = load_diabetes_splits(seed=0, log=lambda line: None)
    assert torch.equal(again.test_x, splits.test_x) and torch.equal(again.test_y, splits.test_y)
    other = load_diabetes_splits(seed=1, log=lambda line: None)
    assert not torch.equal(other.test_x, splits.test_x)


def test_every_split_spans_the_target_range(splits):
    # Stratified by target quantile: each split has mild and severe cases alike.
    median = float(torch.cat([splits.train_y, splits.val_y, splits.test_y]).median())
    for targets in (splits.train_y, splits.val_y, splits.test_y):
        assert 0.35 <= float((targets > median).float().mean()) <= 0.65


def test_statistics_come_from_the_training_split_only(splits):
    stats = standardization_stats(splits.train_x, splits.train_y)
    assert stats["feature_mean"] == pytest.approx(splits.train_x.mean(0).tolist())
    assert stats["feature_std"] == pytest.approx(splits.train_x.std(0).tolist())
    assert stats["target_mean"] == pytest.approx(float(splits.train_y.mean()))
    assert stats["target_std"] == pytest.approx(float(splits.train_y.std()))
    everything = torch.cat([splits.train_y, splits.val_y, splits.test_y])
    assert stats["target_mean"] != pytest.approx(float(everything.mean()), abs=1e-3)
    # Plain floats, so the checkpoint loads with weights_only=True.
    assert all(type(v) is float for v in stats["feature_mean"] + stats["feature_std"])


def test_a_constant_feature_gets_std_one_not_zero():
    x = torch.ones(5, len(FEATURES))
    assert standardization_stats(x, torch.arange(5.0))["feature_std"] == [1.0] * len(FEATURES)
