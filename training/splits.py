"""The train, validation and test parts of a data set, as every family's data preparation returns them."""

from dataclasses import dataclass

import torch


@dataclass
class Splits:
    """Model inputs and targets for each split, and what the data were (source, hash, cleaning, split)."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    data_info: dict
