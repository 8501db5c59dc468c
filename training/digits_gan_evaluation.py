"""Judge digits_gan with the digits_cnn classifier, on images made exactly as the server makes them."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from models.checkpoint import build_model, load_checkpoint  # noqa: E402
from models.digits_cnn import MAX_INK, prepare_digit_image  # noqa: E402
from models.digits_gan import LABELS, MAX_COUNT, decode_png, generate_pngs  # noqa: E402

REQUESTS_PER_DIGIT = 10  # × MAX_COUNT images: 160 per digit, 1,600 in all
FIRST_SEED = 1_000_000  # evaluation requests use seeds FIRST_SEED, FIRST_SEED + 1, …
GRID_SEED = 0  # row d of the sample grid is the answer to {"digit": d, "count": 10, "seed": 0}
NO_DIGIT = -1  # label for a generated image that holds no visible digit


class ClassifierMissing(Exception):
    """No digits_cnn checkpoint to judge the generator with."""


def load_classifier(path) -> tuple:
    """digits_cnn checkpoint path → (model in eval mode, checkpoint dict); raises ClassifierMissing."""
    path = Path(path)
    if not path.is_file():
        raise ClassifierMissing(
            f"no digits_cnn classifier at {path}; digits_gan is judged by it, so train "
            f"digits_cnn first: python -m training.digits_cnn --out {path.parent}")
    checkpoint = load_checkpoint(path)
    if checkpoint["family"] != "digits_cnn":
        raise ClassifierMissing(f"{path} holds a {checkpoint['family']!r} checkpoint, "
                                "not the digits_cnn classifier")
    return build_model(checkpoint), checkpoint


def classify_pngs(classifier, pngs: list) -> list:
    """PNG bytes → the digit the classifier reads in each, or NO_DIGIT where it sees none.

    Each PNG is decoded and prepared by digits_cnn's own `prepare_digit_image`,
    as the digits_cnn server would; where that finds no visible digit, the
    server would answer 400, and the image counts as unreadable.
    """
    labels = [NO_DIGIT] * len(pngs)
    readable, pixels = [], []
    for index, png in enumerate(pngs):
        try:
            pixels.append(prepare_digit_image(decode_png(png)))
            readable.append(index)
        except ValueError:
            pass
    if readable:
        with torch.inference_mode():
            logits = classifier(torch.from_numpy(np.stack(pixels)).unsqueeze(1))
        for index, label in zip(readable, logits.argmax(1).tolist()):
            labels[index] = label
    return labels


def labeled_as_requested(generator, classifier, requests_per_digit=REQUESTS_PER_DIGIT,
                         first_seed=FIRST_SEED) -> dict:
    """Generator → share of its served images read as the requested digit, per digit and overall.

    Also returns the confusion matrix and the spread of the generated images.
    """
    requested, labeled, images = [], [], []
    for digit in range(len(LABELS)):
        for request in range(requests_per_digit):
            seed = first_seed + digit * requests_per_digit + request
            pngs = generate_pngs(generator, digit, MAX_COUNT, seed)
            labels = classify_pngs(classifier, pngs)
            requested += [digit] * len(labels)
            labeled += labels
            images += [np.asarray(decode_png(png), dtype=np.float32) * (MAX_INK / 255.0)
                       for png in pngs]
    requested, labeled = np.array(requested), np.array(labeled)
    per_digit = {label: float((labeled[requested == d] == d).mean())
                 for d, label in enumerate(LABELS)}
    columns = list(LABELS) + ["no visible digit"]
    matrix = np.zeros((len(LABELS), len(columns)), dtype=np.int64)
    np.add.at(matrix, (requested, np.where(labeled == NO_DIGIT, len(LABELS), labeled)), 1)
    return {
        "overall": float((labeled == requested).mean()),
        "per_digit": per_digit,
        "images_per_digit": requests_per_digit * MAX_COUNT,
        "spread": within_digit_spread(torch.from_numpy(np.stack(images)),
                                      torch.from_numpy(requested)),
        "requests": {"per_digit": requests_per_digit, "count": MAX_COUNT,
                     "seeds": [first_seed, first_seed + len(LABELS) * requests_per_digit - 1]},
        "confusion_matrix": {"rows": list(LABELS), "rows_are": "requested digit",
                             "columns": columns, "columns_are": "what the classifier read",
                             "matrix": matrix.tolist()},
    }


def within_digit_spread(pixels: torch.Tensor, digits: torch.Tensor) -> float:
    """Images [N, (1,) 8, 8] on 0–16 and their digits [N] → mean distance between two of one digit.

    Averaged over digits; near 0 when a generator draws each digit one way only.
    """
    flat = pixels.reshape(len(pixels), -1).double()
    spreads = []
    for digit in digits.unique():
        group = flat[digits == digit]
        if len(group) > 1:
            distances = torch.cdist(group, group)
            spreads.append(float(distances.sum() / (len(group) * (len(group) - 1))))
    return float(np.mean(spreads)) if spreads else 0.0


def plot_sample_grid(generator, path, columns=10, seed=GRID_SEED):
    """Generator → PNG grid whose row d is the served answer to {"digit": d, "count": columns, "seed": seed}."""
    fig, axes = plt.subplots(len(LABELS), columns, figsize=(columns * 0.6, len(LABELS) * 0.6))
    for digit, row in enumerate(axes):
        for axis, png in zip(row, generate_pngs(generator, digit, columns, seed)):
            axis.imshow(np.asarray(decode_png(png)), cmap="gray", vmin=0, vmax=255,
                        interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
        row[0].set_ylabel(LABELS[digit], rotation=0, labelpad=10, va="center")
    fig.suptitle(f"digits_gan samples, seed {seed}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
