"""diabetes_mlp model: shapes, standardization inside the model, checkpoint round trip."""


import pytest
import torch

from models.checkpoint import build_model, load_checkpoint, save_checkpoint
from models.diabetes_mlp import FEATURES, DiabetesMLP

MEAN = [50.0, 1.5, 26.0, 95.0, 190.0, 115.0, 50.0, 4.0, 4.6, 91.0]
STD = [13.0, 0.5, 4.4, 14.0, 34.0, 30.0, 13.0, 1.3, 0.5, 11.0]
ARGS = {"feature_mean": MEAN, "feature_std": STD, "target_mean": 152.0, "target_std": 77.0,
        "hidden": (8, 4), "dropout": 0.0}
RECORD = {"age": 59, "sex": 2, "bmi": 32.1, "bp": 101, "s1": 157, "s2": 93.2, "s3": 38, "s4": 4,
          "s5": 4.8598, "s6": 87}


def test_output_is_one_prediction_per_row():
    model = DiabetesMLP(**ARGS).eval()
    for rows in (1, 7):
        assert model(torch.randn(rows, len(FEATURES))).shape == (rows,)


def test_model_standardizes_raw_features_and_returns_the_target_scale():
    model = DiabetesMLP(**ARGS).eval()
    last = model.layers[-1]
    with torch.no_grad():
        for parameter in model.layers.parameters():
            parameter.zero_()
        # Only bias: the standardized output is 1, one target std above the mean.
        last.bias.fill_(1.0)
    assert model(torch.tensor([MEAN])).item() == pytest.approx(152.0 + 77.0)

    # Pass the first standardized feature straight through: raw age = mean + 2 std → +2.
    model = DiabetesMLP(**{**ARGS, "hidden": ()}).eval()
    with torch.no_grad():
        model.layers[0].weight.zero_()
        model.layers[0].bias.zero_()
        model.layers[0].weight[0, 0] = 1.0
    features = torch.tensor([MEAN])
    features[0, 0] = MEAN[0] + 2 * STD[0]
    assert model(features).item() == pytest.approx(152.0 + 2 * 77.0)


def test_statistics_are_buffers_that_travel_in_a_weights_only_checkpoint(tmp_path):
    model = DiabetesMLP(**ARGS)
    assert {"feature_mean", "feature_std", "target_mean", "target_std"} <= set(model.state_dict())
    save_checkpoint(tmp_path / "model.pt", family="diabetes_mlp", version="0", model=model,
                    model_args=ARGS, labels=["progression"], preprocessing={}, metrics={},
                    data={}, training={})
    rebuilt = build_model(load_checkpoint(tmp_path / "model.pt"))
    features = torch.tensor([MEAN, STD])
    assert torch.equal(rebuilt(features), model.eval()(features))
    assert rebuilt.feature_std.tolist() == pytest.approx(STD)


def test_wrong_number_of_statistics_is_refused():
    with pytest.raises(ValueError, match="for each of the 10 features"):
        DiabetesMLP(**{**ARGS, "feature_mean": MEAN[:9]})
