"""Data preparation for digits_cnn: load, clean, split, prepare like serving, statistics, augmentation."""

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import sklearn
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from models.digits_cnn import IMAGE_SIZE, MAX_INK, digits_to_image, prepare_digit_image
from training.cleaning import clean_rows
from training.splits import Splits

VALIDATION_SHARE = 0.15
TEST_SHARE = 0.15


@dataclass
class DigitSplits(Splits):
    """Model-ready pixels [N, 1, 8, 8] (ink 0–16) and integer labels [N] for each split."""

    test_raw: np.ndarray  # test images as load_digits gives them, [N, 8, 8], for sending over HTTP


def split_stratified(features, labels, seed):
    """Arrays → (train, val, test) index arrays, each stratified by label, reproducible by seed."""
    index = np.arange(len(labels))
    rest, test = train_test_split(index, test_size=TEST_SHARE, stratify=labels, random_state=seed)
    val_of_rest = VALIDATION_SHARE / (1.0 - TEST_SHARE)
    train, val = train_test_split(rest, test_size=val_of_rest, stratify=labels[rest],
                                  random_state=seed)
    return train, val, test


def normalization_stats(train_pixels: torch.Tensor) -> dict:
    """Training-split pixels → {"pixel_mean", "pixel_std"}; never computed from other splits."""
    return {"pixel_mean": float(train_pixels.mean()), "pixel_std": float(train_pixels.std())}


def prepare_all(raw: np.ndarray) -> torch.Tensor:
    """load_digits images [N, 8, 8] → [N, 1, 8, 8] through the serving preprocessing."""
    prepared = [prepare_digit_image(digits_to_image(image)) for image in raw]
    return torch.from_numpy(np.stack(prepared)).unsqueeze(1)


def load_digit_splits(seed=0, limit=None, log=print) -> DigitSplits:
    """scikit-learn digits → cleaned, stratified, preprocessed splits; `limit` keeps a quick subset."""
    digits = load_digits()
    features, labels, report = clean_rows(digits.data, digits.target)
    log(str(report))
    labels = labels.astype(np.int64)
    if limit is not None:
        keep, _ = train_test_split(np.arange(len(labels)), train_size=limit, stratify=labels,
                                   random_state=seed)
        features, labels = features[np.sort(keep)], labels[np.sort(keep)]

    raw = features.reshape(-1, IMAGE_SIZE, IMAGE_SIZE).astype(np.float32)
    train, val, test = split_stratified(features, labels, seed)
    pixels = prepare_all(raw)
    targets = torch.from_numpy(labels)
    data_info = {
        "source": "sklearn.datasets.load_digits",
        "sklearn_version": sklearn.__version__,
        "sha256": hashlib.sha256(raw.tobytes() + labels.tobytes()).hexdigest(),
        "rows": int(len(labels)),
        "cleaning": vars(report),
        "split": {"train": len(train), "validation": len(val), "test": len(test), "seed": seed},
    }
    log(f"split: {len(train)} train, {len(val)} validation, {len(test)} test (seed {seed})")
    return DigitSplits(pixels[train], targets[train], pixels[val], targets[val],
                       pixels[test], targets[test], data_info, raw[test])


def augment(pixels: torch.Tensor, generator: torch.Generator, max_degrees=10.0, max_shift=0.75,
            noise_std=0.5) -> torch.Tensor:
    """Training batch [N, 1, 8, 8] → a randomly rotated, shifted and noisy copy, still on 0–16.

    Applied to the training split only; validation and test stay as served.
    """
    n = pixels.shape[0]
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(max_degrees)
    # affine_grid works in [-1, 1] coordinates: one pixel is 2 / IMAGE_SIZE.
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * max_shift * 2 / IMAGE_SIZE
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(pixels.shape), align_corners=False)
    moved = F.grid_sample(pixels, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    noise = torch.randn(moved.shape, generator=generator) * noise_std
    return (moved + noise).clamp(0.0, MAX_INK)
