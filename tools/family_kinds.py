"""The kinds of family tools.new_family makes: how each checks the data it is given (with the
same code its training runs) and what fills its templates."""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from PIL import Image

from models.images import prepare_picture
from tools.serve import sample_curl
from training.image_folders import load_picture_splits
from training.tables import DataError, is_missing, read_csv
from training.tabular_data import load_table_splits
from training.text_data import load_text_splits


@dataclass
class Family:
    """What the templates are filled with, and the files that come with them."""

    name: str
    kind: str
    data: Path  # the data as the user gave it
    values: dict = field(default_factory=dict)  # template name → text
    sample: bytes = b""  # the sample request's body
    sample_suffix: str = ".json"

    @property
    def own_data(self) -> Path:
        """Where the family keeps its copy of the data, relative to the repository."""
        return Path("training", "data", self.name, "images" if self.data.is_dir() else "data.csv")


@dataclass
class Kind:
    """One kind of family: how its data are checked, and which templates make its files."""

    summary: str  # what a family of this kind does, in a few words
    inspect: Callable  # Family → fills its values and sample; raises DataError
    templates: dict  # destination pattern → template file


def files(kind, group) -> dict:
    """A kind's name and its group (tabular, text, image) → {destination: template}: files a
    group's kinds share have the group's template."""
    return {"models/{name}.py": f"model-{kind}.template",
            "handlers/{name}.py": f"handler-{group}.template",
            "training/{name}.py": f"training-{kind}.template",
            "families/{name}.py": f"family-{group}.template",
            "model-config/{name}.yaml": f"model-config-{group}.template",
            "tests/test_{name}_model.py": f"test-{kind}.template",
            "README section": f"readme-{group}.template"}


def quiet(_line):
    """Training's progress lines, unwanted while the data are only checked."""


def python_tuple(items, indent=4, width=99) -> str:
    """Strings → a tuple literal, wrapped at `width` characters, one level indented."""
    lines, line = [], " " * indent
    for item in map(repr, items):
        if len(line) + len(item) + 2 > width and line.strip():
            lines.append(line.rstrip())
            line = " " * indent
        line += item + ", "
    lines.append(line.rstrip())
    return "(\n" + "\n".join(lines) + "\n)"


def number(cell: str):
    """A CSV cell holding a number → an int when it is whole, else a float, as JSON shows it."""
    value = float(cell)
    return int(value) if value.is_integer() and abs(value) < 2 ** 53 else value


def first_usable_row(frame, features, target) -> int:
    """A table's cells → the index of its first row with a finite number in every feature
    column and a value in the target column."""
    for index in range(len(frame)):
        row = frame.iloc[index]
        cells = row[list(features)]
        if not is_missing(cells).any() and all(math.isfinite(float(c)) for c in cells) \
                and not is_missing(row[[target]]).any():
            return index
    raise DataError("no row holds a value in every column")


def inspect_table(family: Family, classify: bool):
    """A tabular family's CSV → its features, target, sample record and README answer; raises
    DataError as its training would."""
    target = "label" if classify else "target"
    frame = read_csv(family.data, [target])
    features = [name for name in frame.columns if name != target]
    if not features:
        raise DataError(f"{family.data}: no feature columns beside {target!r}")
    splits = load_table_splits(family.data, features, target, classify=classify, log=quiet)
    row = frame.iloc[first_usable_row(frame, features, target)]
    record = {name: number(row[name]) for name in features}
    family.sample = (json.dumps(record, indent=2) + "\n").encode()
    if classify:
        answer = {"label": row[target], "probability": 0.9}
        note = (f"The answer is the likeliest class and its probability: this sample's class in "
                f"the data is `{row[target]}`,\nand the probability is your trained model's own.\n"
                f"Classes: {', '.join(f'`{name}`' for name in splits.classes)}.")
    else:
        answer = {"prediction": number(row[target])}
        note = (f"The answer is the predicted `{target}`: this sample's value in the data is "
                f"{number(row[target])},\nand the prediction is your trained model's own.")
    family.values.update(
        features=python_tuple(features), target=target, content_type="application/json",
        handler_base="TabularClassifierHandler" if classify else "TabularRegressorHandler",
        answer_words=("the likeliest class and its probability" if classify
                      else f"the predicted {target}"),
        rows=f"{splits.data_info['rows']:,}", feature_count=str(len(features)),
        answer=json.dumps(answer), answer_note=note)


# Read at this many pixels a side unless the family's model says otherwise.
IMAGE_SIZE = 32
CONTENT_TYPES = {"PNG": ("image/png", ".png"), "JPEG": ("image/jpeg", ".jpg"),
                 "BMP": ("image/bmp", ".bmp"), "GIF": ("image/gif", ".gif"),
                 "WEBP": ("image/webp", ".webp")}


def inspect_pictures(family: Family):
    """An image family's folder → its classes, sample picture and README answer; raises DataError
    as its training would."""
    splits = load_picture_splits(family.data, lambda image: prepare_picture(image, IMAGE_SIZE),
                                 log=quiet)
    chosen = splits.test_files[0]
    family.sample = chosen.read_bytes()
    content_type, family.sample_suffix = CONTENT_TYPES[Image.open(chosen).format]
    label = chosen.relative_to(family.data).parts[0]
    family.values.update(
        image_size=str(IMAGE_SIZE), content_type=content_type, rows=f"{splits.data_info['rows']:,}",
        answer=json.dumps({"label": label, "probability": 0.9}),
        answer_note=(f"The answer is the likeliest class and its probability: this sample is in "
                     f"the `{label}` folder,\nand the probability is your trained model's own.\n"
                     f"Classes: {', '.join(f'`{name}`' for name in splits.classes)}."))


def inspect_texts(family: Family):
    """A text family's CSV → its classes, sample text and README answer; raises DataError as its
    training would."""
    splits = load_text_splits(family.data, log=quiet)
    text, label = splits.test_texts[0], splits.classes[int(splits.test_y[0])]
    family.sample = (text + "\n").encode()
    family.sample_suffix = ".txt"
    family.values.update(
        content_type="text/plain", rows=f"{splits.data_info['rows']:,}",
        answer=json.dumps({"label": label, "probability": 0.9}),
        answer_note=(f"The answer is the likeliest class and its probability: this sample's class "
                     f"in the data is `{label}`,\nand the probability is your trained model's own.\n"
                     f"Classes: {', '.join(f'`{name}`' for name in splits.classes)}."))


def with_curl(inspect):
    """A kind's inspect → the same, adding the curl command make serve prints for the sample."""
    def inspect_and_curl(family: Family):
        inspect(family)
        family.values["curl"] = sample_curl(
            "http://127.0.0.1:8080", family.name,
            f"samples/{family.name}{family.sample_suffix}", family.values["content_type"])
    return inspect_and_curl


KINDS = {
    "tabular-classifier": Kind(
        "a classifier of rows of named numbers",
        with_curl(lambda family: inspect_table(family, classify=True)),
        files("tabular-classifier", "tabular")),
    "tabular-regressor": Kind(
        "a regressor of rows of named numbers",
        with_curl(lambda family: inspect_table(family, classify=False)),
        files("tabular-regressor", "tabular")),
    "text-classifier": Kind(
        "a classifier of short texts", with_curl(inspect_texts),
        files("text-classifier", "text")),
    "image-classifier": Kind(
        "a classifier of pictures", with_curl(inspect_pictures),
        files("image-classifier", "image")),
}
