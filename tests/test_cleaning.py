import numpy as np

from training.cleaning import clean_rows


def test_clean_rows_drops_missing_duplicates_and_conflicts_and_counts_each():
    features = np.array([
        [1.0, 2.0],   # kept
        [1.0, 2.0],   # duplicate of row 0
        [3.0, np.nan],  # missing value
        [5.0, 6.0],   # same input as the next row, other label: both conflicting
        [5.0, 6.0],
        [7.0, np.inf],  # non-finite
        [8.0, 9.0],   # kept
    ])
    labels = np.array([0, 0, 1, 1, 2, 1, 1])
    kept_x, kept_y, report = clean_rows(features, labels)

    assert kept_x.tolist() == [[1.0, 2.0], [8.0, 9.0]]
    assert kept_y.tolist() == [0, 1]
    assert (report.rows_in, report.missing, report.duplicates, report.conflicting,
            report.rows_out) == (7, 2, 1, 2, 2)
    assert "2 with missing values dropped" in str(report)


def test_clean_rows_drops_missing_labels():
    features = np.array([[1.0], [2.0], [3.0]])
    labels = np.array(["a", None, "b"], dtype=object)
    kept_x, kept_y, report = clean_rows(features, labels)
    assert kept_y.tolist() == ["a", "b"]
    assert report.missing == 1


def test_clean_rows_keeps_row_order():
    features = np.array([[9.0], [1.0], [5.0]])
    kept_x, _, report = clean_rows(features, np.array([0, 1, 2]))
    assert kept_x.ravel().tolist() == [9.0, 1.0, 5.0]
    assert report.rows_out == 3
