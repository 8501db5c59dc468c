"""digits_cnn's architecture: a batch of 8×8 digits in, ten logits each out."""

import torch

from models.digits_cnn import DigitsCNN


def test_model_maps_a_batch_of_digits_to_ten_logits():
    model = DigitsCNN(pixel_mean=5.0, pixel_std=6.0).eval()
    assert model(torch.rand(7, 1, 8, 8) * 16).shape == (7, 10)
