"""A CSV of a family's own data (tools.new_family's tabular and text kinds): read, checked, split.

Every refusal is a DataError whose message names the file, the column, the row or the class, and
says what to change; cleaning (missing values, duplicates, rows seen with two labels) is not a
refusal: those rows are dropped and counted.
"""

import csv
import hashlib
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

# Cells that mean "no value" in the CSVs people export (pandas' own list, and "?" of UCI's sets).
MISSING = {"", "na", "n/a", "nan", "null", "none", "?", "-"}
VALIDATION_SHARE = 0.15
TEST_SHARE = 0.15
# Each class needs one example in each split.
MIN_PER_CLASS = 3


class DataError(ValueError):
    """Data that cannot be trained on: the message says what is wrong and what to change."""


def read_csv(path, columns) -> pd.DataFrame:
    """A CSV with a header holding `columns` (and maybe more) → its cells as stripped strings;
    every row must have as many fields as the header."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; give the path of a CSV with a header row")
    try:
        with open(path, encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file)
            lines = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start}); "
                        "save the CSV as UTF-8") from None
    except csv.Error as error:
        raise DataError(f"{path}: not a CSV: {error}") from None
    if not lines:
        raise DataError(f"{path}: the file is empty; give a CSV with a header row")
    (_, header), rows = lines[0], lines[1:]
    header = [name.strip() for name in header]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataError(f"{path}: column name(s) {', '.join(map(repr, repeated))} appear more "
                        "than once; give every column its own name")
    missing = [name for name in columns if name not in header]
    if missing:
        raise DataError(f"{path}: no column named {', '.join(map(repr, missing))}; "
                        f"the header has {', '.join(map(repr, header))}")
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} fields where the header has "
                            f"{len(header)}; put a value that holds a comma in double quotes "
                            '("like, this")')
    if not rows:
        raise DataError(f"{path}: the CSV has a header but no rows")
    return pd.DataFrame([row for _, row in rows], columns=header, dtype=str).apply(
        lambda column: column.str.strip())


def is_missing(cells: pd.Series) -> np.ndarray:
    """Cells → whether each holds no value."""
    return cells.str.lower().isin(MISSING).to_numpy()


def numbers(frame, columns, path) -> np.ndarray:
    """Columns of cells → [N, len(columns)] float64, NaN where a cell is missing; raises DataError
    naming the first column holding text that is no number, with its row."""
    values = np.empty((len(frame), len(columns)))
    for position, name in enumerate(columns):
        cells = frame[name]
        parsed = pd.to_numeric(cells.where(~is_missing(cells), None), errors="coerce")
        wrong = parsed.isna().to_numpy() & ~is_missing(cells)
        if wrong.any():
            row = int(np.argmax(wrong))
            raise DataError(f"{path}: column {name!r} holds {cells.iloc[row]!r} on data row "
                            f"{row + 1}, which is not a number; every feature column must be "
                            "numeric (encode categories as numbers first, or drop the column)")
        values[:, position] = parsed.to_numpy(dtype=np.float64)
    return values


def labels_of(frame, column, path) -> np.ndarray:
    """The label column → its labels as strings, None where missing."""
    cells = frame[column]
    return np.array([None if gone else label for label, gone in zip(cells, is_missing(cells))],
                    dtype=object)


def class_names(labels, path, column="label") -> list:
    """Labels (after cleaning) → the sorted class names; raises DataError for fewer than two
    classes, or a class too rare to appear in every split."""
    names, counts = np.unique(np.array([label for label in labels if label is not None]),
                              return_counts=True)
    if len(names) < 2:
        found = f"only the class {names[0]!r}" if len(names) else "no labels"
        raise DataError(f"{path}: the {column!r} column holds {found}; a classifier needs "
                        "examples of at least two classes")
    rare = [f"{name!r} ({count})" for name, count in zip(names, counts) if count < MIN_PER_CLASS]
    if rare:
        raise DataError(f"{path}: class(es) {', '.join(rare)} have fewer than {MIN_PER_CLASS} "
                        "examples; each class needs one for training, one for validation and one "
                        "for testing: add examples or drop the class")
    return [str(name) for name in names]


def split_rows(strata: np.ndarray, seed: int) -> tuple:
    """A stratum per row (class id, or target bin) → (train, validation, test) row indices: each
    stratum shuffled by `seed` and shared out, with at least one row of it in every split."""
    generator = np.random.default_rng(seed)
    parts = ([], [], [])
    for stratum in np.unique(strata):
        rows = generator.permutation(np.flatnonzero(strata == stratum))
        test = max(1, round(len(rows) * TEST_SHARE))
        validation = max(1, round(len(rows) * VALIDATION_SHARE))
        for part, chosen in zip(parts, (rows[test + validation:], rows[test:test + validation],
                                        rows[:test])):
            part.extend(chosen.tolist())
    return tuple(np.array(sorted(part), dtype=np.int64) for part in parts)


def target_bins(targets: np.ndarray) -> np.ndarray:
    """Regression targets → quantile bins of at least MIN_PER_CLASS rows each, so every split
    spans the target's range."""
    bins = max(1, min(5, len(targets) // (MIN_PER_CLASS * 4)))
    edges = np.quantile(targets, np.linspace(0, 1, bins + 1)[1:-1])
    return np.digitize(targets, edges)


def file_sha256(path) -> str:
    """File → hex SHA-256 of its bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_into(source, folder, name) -> Path:
    """A data file or folder → a copy at folder/name, replacing an older copy; the family's own
    data folder holds what it was last trained on."""
    source, target = Path(source).resolve(), Path(folder) / name
    if target.exists() and source == target.resolve():
        return target
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f".{name}.new"
    shutil.rmtree(staged, ignore_errors=True)
    if source.is_dir():
        shutil.copytree(source, staged)
    else:
        shutil.copyfile(source, staged)
    if target.is_dir():
        shutil.rmtree(target)
    staged.replace(target)
    return target


def keep_copy(given, own) -> None:
    """Data a run was told to train on and the family's own copy: when they differ, the given
    data (already read and checked) replaces the copy, so the family keeps what it was trained on."""
    own = Path(own)
    if Path(given).resolve() != own.resolve():
        copy_into(given, own.parent, own.name)
        print(f"copied {given} into {own}")


@contextmanager
def exit_on_data_error():
    """Turns a DataError into a one-line message on stderr and exit status 1, not a traceback."""
    try:
        yield
    except DataError as error:
        raise SystemExit(f"error: {error}") from None
