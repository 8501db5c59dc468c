"""digits_cnn's explanations: Integrated Gradients from a blank page, in-process and on a real
TorchServe.

The property every test leans on is completeness: the attributions add up
to the explained output on the input minus the same output on the baseline.
The tests compute both ends with the model itself, never from the answer.
"""

import base64
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients
from PIL import Image

from handlers import base
from handlers.explanations import HEATMAP_SIZE
from harness.torchserve import HTTP_TIMEOUT
from models.digits_cnn import digits_to_image
from tests.explaining import EXPLAIN, complete, post
from tests.in_process import InProcessHandler
from training.digits_data import load_digit_splits

ROOT = Path(__file__).resolve().parent.parent
DIGIT = (ROOT / "samples" / "digit_3.png").read_bytes()


def digit_difference(handler, pixels, label):
    """[1, 1, 8, 8] model input and a label → its logit on the input minus on a blank page."""
    target = handler.labels.index(label)
    with torch.no_grad():
        return float(handler.model(pixels)[0, target] - handler.model(torch.zeros_like(pixels))[0, target])


def decode_png(encoded) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(encoded, validate=True)))
    assert image.format == "PNG"
    return image


@pytest.fixture(scope="module")
def digits(checkpoint_dir, tmp_path_factory):
    return InProcessHandler("digits_cnn", checkpoint_dir, tmp_path_factory)


# In-process, through the TorchServe adapter with TorchServe's own Context.

def test_digit_explanation_is_the_prediction_plus_complete_attributions(digits):
    [(status, prediction), (explained_status, explained)] = digits.run([
        {"body": DIGIT, "_content_types": {"body": "image/png"}},
        {"body": DIGIT, "_content_types": {"body": "image/png"}, "_headers": EXPLAIN}])
    assert status == explained_status == 200
    assert {key: explained[key] for key in prediction} == prediction
    grid = explained["attributions"]
    assert len(grid) == 8 and all(len(row) == 8 for row in grid)
    assert all(isinstance(value, float) for row in grid for value in row)

    handler = digits.handler
    pixels = handler.preprocess(Image.open(io.BytesIO(DIGIT)))
    difference = digit_difference(handler, pixels, explained["label"])
    assert complete(float(np.sum(grid)), difference)
    assert explained["logit"] - explained["baseline_logit"] == pytest.approx(difference, abs=1e-4)
    # Paper is where the picture equals the blank page: no credit at all.
    paper = pixels[0, 0].numpy() == 0
    assert paper.any() and (np.asarray(grid)[paper] == 0).all()


def test_digit_attributions_are_captums_integrated_gradients(digits):
    handler = digits.handler
    image = Image.open(io.BytesIO(DIGIT))
    pixels = handler.preprocess(image)
    answer = handler.explain(image, pixels)
    # Halving the intervals reuses points; the result must be Captum's own trapezoid
    # rule, its weights rescaled to sum to 1.
    steps = answer["steps"]
    expected = IntegratedGradients(handler.model).attribute(
        pixels, torch.zeros_like(pixels), target=handler.labels.index(answer["label"]),
        n_steps=steps, method="riemann_trapezoid") * (steps / (steps - 1))
    assert np.allclose(answer["attributions"], expected[0, 0].numpy(), atol=1e-4)


def test_heatmap_is_a_png_of_the_documented_size_coloured_by_sign(digits):
    [(_, explained)] = digits.run([{"body": DIGIT, "_headers": EXPLAIN}])
    heatmap = decode_png(explained["heatmap"])
    assert heatmap.size == (HEATMAP_SIZE, HEATMAP_SIZE) and heatmap.mode == "RGB"
    cell = HEATMAP_SIZE // 8
    pixels = np.asarray(heatmap, dtype=int)
    grid = np.asarray(explained["attributions"])
    visible = 0.02 * np.abs(grid).max()  # fainter cells round to white
    for (row, col), value in np.ndenumerate(grid):
        red, _, blue = pixels[row * cell + cell // 2, col * cell + cell // 2]
        if value > visible:
            assert red > blue
        elif value < -visible:
            assert blue > red
        elif value == 0:
            assert (red, blue) == (255, 255)
    strongest = np.unravel_index(np.abs(grid).argmax(), grid.shape)
    assert tuple(pixels[strongest[0] * cell, strongest[1] * cell]) in ((178, 24, 43), (33, 102, 172))


def test_test_split_digits_are_explained_completely(digits):
    handler = digits.handler
    seed = handler.checkpoint["data"]["split"]["seed"]
    test_x = load_digit_splits(seed=seed, log=lambda line: None).test_x
    for pixels in test_x[::4]:  # about 70 digits of every class
        pixels = pixels.reshape(1, 1, 8, 8).float()
        answer = handler.explain(digits_to_image(pixels[0, 0].numpy()), pixels)
        difference = digit_difference(handler, pixels, answer["label"])
        grid = np.array(answer["attributions"])
        assert complete(float(grid.sum()), difference, float(np.abs(grid).sum())), answer["label"]
        # The answer's own delta says how far the sum is from its logits, whatever it is.
        assert answer["convergence_delta"] == pytest.approx(
            grid.sum() - (answer["logit"] - answer["baseline_logit"]), abs=1e-4)


def test_bad_input_is_still_a_400_and_a_batch_of_both_kinds_answers_each(digits):
    blank = io.BytesIO()
    Image.new("L", (16, 16), 255).save(blank, format="PNG")
    results = digits.run([
        {"body": DIGIT, "_headers": EXPLAIN},
        {"body": blank.getvalue(), "_headers": EXPLAIN},
        {"body": DIGIT},
        {"body": b"", "_headers": EXPLAIN},
    ])
    assert [status for status, _ in results] == [200, 400, 200, 400]
    assert "no visible digit" in results[1][1]["message"]
    assert "attributions" in results[0][1] and "attributions" not in results[2][1]
    assert results[3][1]["message"].startswith("empty request body")


def test_explanations_past_the_batch_budget_are_refused_as_busy(digits, monkeypatch):
    monkeypatch.setattr(base, "EXPLAIN_BUDGET_S", 0)
    results = digits.run([{"body": DIGIT, "_headers": EXPLAIN}, {"body": DIGIT},
                          {"body": DIGIT, "_headers": EXPLAIN}, {"body": DIGIT, "_headers": EXPLAIN}])
    assert [status for status, _ in results] == [200, 200, 503, 503]
    assert "attributions" in results[0][1] and results[1][1]["label"] == "3"
    assert results[2][1]["type"] == "Busy" and "send this one again" in results[2][1]["message"]


# On a real TorchServe: /explanations/digits_cnn reaches explain().

def test_served_digit_explanation(server, digits):
    response = post(server, "explanations", "digits_cnn", DIGIT, "image/png")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["label"] == "3"
    assert np.asarray(answer["attributions"]).shape == (8, 8)
    assert decode_png(answer["heatmap"]).size == (HEATMAP_SIZE, HEATMAP_SIZE)
    pixels = digits.handler.preprocess(Image.open(io.BytesIO(DIGIT)))
    assert complete(float(np.sum(answer["attributions"])),
                    digit_difference(digits.handler, pixels, "3"))
    prediction = post(server, "predictions", "digits_cnn", DIGIT, "image/png", HTTP_TIMEOUT)
    assert {key: answer[key] for key in prediction.json()} == prediction.json()


def test_served_bad_input_to_explanations_is_a_400(server):
    response = post(server, "explanations", "digits_cnn", b"not a picture", "image/png")
    assert response.status_code == 400
    assert "body is not a PNG" in response.json()["message"]
