"""A folder of pictures with one subfolder per class (tools.new_family's image kind): read as
serving reads a request, checked, cleaned, split and augmented."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.images import PictureError, open_picture
from training.cleaning import clean_rows
from training.splits import Splits
from training.tables import MIN_PER_CLASS, DataError, class_names, split_rows

PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


@dataclass
class PictureSplits(Splits):
    """Model-ready pictures [N, 3, S, S] and class ids [N] for each split; `classes` names the ids
    and `test_files` are the test split's files, to send as requests."""

    classes: list
    test_files: list


def picture_files(folder) -> dict:
    """A folder of class subfolders → {class: sorted picture files}; raises DataError when it holds
    no class with a picture, or pictures outside a class folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder; give a folder with one subfolder of pictures "
                        "per class")
    loose = sorted(p.name for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in PICTURE_SUFFIXES)
    if loose:
        raise DataError(f"{folder}: pictures outside a class folder ({', '.join(loose[:3])}"
                        f"{', …' if len(loose) > 3 else ''}); put each in the subfolder named "
                        "after its class")
    classes = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in sub.rglob("*")
                       if p.is_file() and p.suffix.lower() in PICTURE_SUFFIXES
                       and not any(part.startswith(".") for part in p.relative_to(sub).parts))
        if files:
            classes[sub.name] = files
    if not classes:
        raise DataError(f"{folder}: no pictures (PNG, JPEG, BMP, GIF, WebP) in any subfolder; "
                        "give a folder with one subfolder of pictures per class")
    return classes


def read_pictures(files, prepare) -> np.ndarray:
    """Picture files → [N, 3, S, S] model inputs, each opened as serving opens a request body;
    raises DataError naming the files that cannot be read."""
    prepared, unreadable = [], []
    for path in files:
        try:
            prepared.append(prepare(open_picture(path.read_bytes())))
        except PictureError as error:
            unreadable.append(f"{path} ({error})")
    if unreadable:
        raise DataError(f"{len(unreadable)} picture(s) cannot be read: {'; '.join(unreadable[:3])}"
                        f"{'; …' if len(unreadable) > 3 else ''}; remove or replace them")
    return np.stack(prepared)


def load_picture_splits(folder, prepare, seed=0, log=print) -> PictureSplits:
    """A folder of class subfolders → cleaned, stratified splits of model-ready pictures; raises
    DataError when they cannot be trained on."""
    by_class = picture_files(folder)
    files = [path for paths in by_class.values() for path in paths]
    labels = np.array([name for name, paths in by_class.items() for _ in paths], dtype=object)
    class_names(labels, folder, "class folder")  # at least two classes, each big enough
    pictures = read_pictures(files, prepare)
    shape = pictures.shape[1:]
    flat, labels, report = clean_rows(pictures.reshape(len(pictures), -1), labels)
    log(str(report))
    kept = [files[i] for i in kept_rows(pictures.reshape(len(pictures), -1), flat)]
    classes = class_names(labels, folder, "class folder")
    targets = np.array([classes.index(label) for label in labels], dtype=np.int64)
    train, validation, test = split_rows(targets, seed)
    x = torch.from_numpy(flat.astype(np.float32).reshape(-1, *shape))
    y = torch.from_numpy(targets)
    digest = hashlib.sha256()
    for path in kept:
        digest.update(path.read_bytes())
    data_info = {
        "source": str(Path(folder)),
        "sha256": digest.hexdigest(),
        "rows": int(report.rows_in),
        "classes": {name: int((targets == index).sum()) for index, name in enumerate(classes)},
        "cleaning": vars(report),
        "split": {"train": len(train), "validation": len(validation), "test": len(test),
                  "seed": seed, "stratified_by": "class", "min_per_class": MIN_PER_CLASS},
    }
    log(f"split: {len(train)} train, {len(validation)} validation, {len(test)} test (seed {seed})")
    return PictureSplits(x[train], y[train], x[validation], y[validation], x[test], y[test],
                         data_info, classes, [kept[i] for i in test])


def kept_rows(before: np.ndarray, after: np.ndarray) -> list:
    """Rows before and after cleaning (which keeps the first of each and the order) → the
    indices of the kept rows."""
    kept, position = [], 0
    for index, row in enumerate(before):
        if position < len(after) and np.array_equal(row, after[position]):
            kept.append(index)
            position += 1
    return kept


def channel_statistics(train_x: torch.Tensor) -> dict:
    """Training-split pictures [N, 3, S, S] → {"channel_mean", "channel_std"}, as plain floats."""
    return {"channel_mean": train_x.mean(dim=(0, 2, 3)).tolist(),
            "channel_std": train_x.std(dim=(0, 2, 3)).tolist()}


def augment(pixels: torch.Tensor, generator: torch.Generator, max_shift=0.1, max_zoom=0.1,
            max_light=0.2) -> torch.Tensor:
    """Training batch [N, 3, S, S] on 0–1 → a copy moved by up to `max_shift` of its width, zoomed
    by up to `max_zoom`, lighter or darker and more or less contrasted by up to `max_light`.

    No flips and no turns: they change what a picture means when the class is a direction
    (an arrow) or a character. Turn them on here if your classes do not depend on them.
    """
    n = pixels.shape[0]
    zoom = 1 + (torch.rand(n, generator=generator) * 2 - 1) * max_zoom
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * max_shift * 2
    zeros = torch.zeros(n)
    theta = torch.stack([torch.stack([1 / zoom, zeros, shift[:, 0]], 1),
                         torch.stack([zeros, 1 / zoom, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(pixels.shape), align_corners=False)
    moved = F.grid_sample(pixels, grid, mode="bilinear", padding_mode="border", align_corners=False)
    light = 1 + (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1) * max_light
    contrast = 1 + (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1) * max_light
    mean = moved.mean(dim=(1, 2, 3), keepdim=True)
    return ((moved - mean) * contrast + mean * light).clamp(0.0, 1.0)

