import numpy as np
import pytest
import torch

from models.digits_cnn import MAX_INK, prepare_digit_image
from training.digits_data import augment, load_digit_splits, normalization_stats
from training.digits_evaluation import evaluation_sets
from training.digits_mix import mix_sources, random_typed_digit
from training.digits_sources import fonts_for


@pytest.fixture(scope="module")
def splits():
    return load_digit_splits(seed=0, log=lambda line: None)


def test_splits_are_disjoint_stratified_and_reproducible(splits):
    sizes = (len(splits.train_y), len(splits.val_y), len(splits.test_y))
    assert sum(sizes) == 1797
    assert splits.data_info["split"]["test"] == len(splits.test_y)
    for labels in (splits.train_y, splits.val_y, splits.test_y):
        shares = torch.bincount(labels, minlength=10).float() / len(labels)
        assert shares.min() > 0.08 and shares.max() < 0.12  # every digit ≈ 10% in every split

    train = {tuple(x.flatten().tolist()) for x in splits.train_x}
    test = {tuple(x.flatten().tolist()) for x in splits.test_x}
    assert not train & test

    again = load_digit_splits(seed=0, log=lambda line: None)
    assert torch.equal(again.test_x, splits.test_x)
    other = load_digit_splits(seed=1, log=lambda line: None)
    assert not torch.equal(other.test_y, splits.test_y)


def test_cleaning_is_reported(splits):
    lines = []
    load_digit_splits(seed=0, log=lines.append)
    assert lines[0].startswith("cleaning: 1797 rows in, 0 with missing values dropped")
    assert splits.data_info["cleaning"]["rows_out"] == 1797


def test_normalization_statistics_come_from_the_training_split_only(splits):
    stats = normalization_stats(splits.train_x)
    assert stats["pixel_mean"] == pytest.approx(float(splits.train_x.mean()))
    everything = torch.cat([splits.train_x, splits.val_x, splits.test_x])
    assert stats["pixel_mean"] != float(everything.mean())


def test_every_split_goes_through_the_serving_preprocessing(splits):
    for pixels in (splits.train_x, splits.val_x, splits.test_x):
        assert pixels.shape[1:] == (1, 8, 8)
        peaks = pixels.amax(dim=(1, 2, 3))
        assert torch.allclose(peaks, torch.full_like(peaks, MAX_INK))  # strongest cell scaled to 16


def test_augmentation_moves_pixels_within_range_and_is_seeded(splits):
    batch = splits.train_x[:64]
    first = augment(batch, torch.Generator().manual_seed(3))
    second = augment(batch, torch.Generator().manual_seed(3))
    assert torch.equal(first, second)
    assert first.shape == batch.shape
    assert float(first.min()) >= 0.0 and float(first.max()) <= MAX_INK
    changed = (first - batch).abs().mean(dim=(1, 2, 3))
    assert bool((changed > 0.1).all())
    # Shifts and rotations keep the digit: the images stay strongly correlated.
    correlation = np.corrcoef(first.flatten().numpy(), batch.flatten().numpy())[0, 1]
    assert correlation > 0.7


@pytest.fixture(scope="module")
def mix():
    return mix_sources(seed=0, share=0.05, log=lambda line: None)


def test_the_training_mix_is_seeded_and_goes_through_the_serving_preprocessing(mix):
    assert set(mix) == {"mnist", "strokes", "typed", "photo_like"}
    for name, ((train_x, train_y), (val_x, val_y)) in mix.items():
        assert len(train_y) > len(val_y) > 0, name
        for pixels, labels in ((train_x, train_y), (val_x, val_y)):
            assert pixels.shape[1:] == (1, 8, 8) and len(pixels) == len(labels)
            peaks = pixels.amax(dim=(1, 2, 3))
            assert torch.allclose(peaks, torch.full_like(peaks, MAX_INK)), name
            assert int(labels.min()) >= 0 and int(labels.max()) <= 9
    again = mix_sources(seed=0, share=0.05, log=lambda line: None)
    other = mix_sources(seed=1, share=0.05, log=lambda line: None)
    for name in mix:
        assert torch.equal(again[name][0][0], mix[name][0][0]), name
        assert not torch.equal(other[name][0][0], mix[name][0][0]), name


@pytest.mark.slow
def test_the_training_mix_holds_no_evaluation_picture(mix):
    def rows(pixels):
        # Each picture's bytes; adding 0.0 makes -0.0 and 0.0 one value, as == does.
        flat = (pixels.reshape(len(pixels), -1) + 0.0).numpy()
        return {row.tobytes() for row in flat}

    mixed = set().union(*(rows(train_x) | rows(val_x) for (train_x, _), (val_x, _) in mix.values()))
    for kind, data in evaluation_sets().items():
        assert not mixed & rows(data.pixels), kind


def test_training_fonts_render_a_typed_digit_in_any_theme():
    rng = np.random.default_rng(0)
    for font in fonts_for("train"):
        picture = random_typed_digit("4", font, rng)
        assert picture.mode == "RGB" and min(picture.size) >= 5
        assert float(prepare_digit_image(picture).max()) == pytest.approx(MAX_INK)
