"""digits_cnn on a real TorchServe made to batch: a raw image beside v1 and v2 bodies."""

import base64
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.examples import sample_body, tensor
from tests.calls import post
from tests.protocol_bodies import v2_body
from tests.under_test import MODELS

PNG = sample_body("digits_cnn")[0]
IMAGE = base64.b64encode(PNG).decode("ascii")


@pytest.mark.skipif("digits_cnn" not in MODELS, reason="TEST_MODELS leaves out digits_cnn")
def test_torchserve_answers_a_raw_image_beside_v1_and_v2_bodies(batching_server):
    with ThreadPoolExecutor(max_workers=3) as pool:
        raw, v1, v2 = pool.map(lambda args: post(batching_server, "digits_cnn", *args),
                               [(PNG, "image/png"), ({"instances": [{"b64": IMAGE}]},),
                                (v2_body("digits_cnn"),)])
    assert (raw.status_code, v1.status_code, v2.status_code) == (200, 200, 200)
    assert v1.json() == {"predictions": [raw.json()]}
    assert v2.json()["outputs"][0] == tensor("label", [2], "BYTES", ["3", "3"])
