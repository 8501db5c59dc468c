"""diabetes_mlp archived with --format aoti on a real TorchServe: the archive ships its package,
and every test-split record gets the eager answer."""

import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from handlers import handler_class
from handlers.formats import FORMAT_FILE, PACKAGE_FILE
from handlers.messages import Request
from harness.archives import build_store
from harness.torchserve import HTTP_TIMEOUT, bearer, start_private
from models.checkpoint import load_checkpoint
from models.diabetes_mlp import FEATURES
from training.diabetes_data import load_diabetes_splits


@pytest.fixture(scope="module")
def aoti_server(checkpoint_dir, tmp_path_factory):
    """A real TorchServe serving diabetes_mlp archived with --format aoti."""
    store = tmp_path_factory.mktemp("aoti_store")
    build_store(store, ["diabetes_mlp"], checkpoint_dir, model_format="aoti")
    running = start_private(tmp_path_factory.mktemp("aoti_torchserve"), store)
    yield running, store
    running.stop()


def test_aoti_archive_ships_its_package_and_format(aoti_server):
    _, store = aoti_server
    with zipfile.ZipFile(store / "diabetes_mlp.mar") as mar:
        assert mar.read(FORMAT_FILE).decode().strip() == "aoti"
        assert PACKAGE_FILE in mar.namelist()


def test_aoti_archive_serves_the_eager_answers(aoti_server, checkpoint_dir):
    server, _ = aoti_server
    checkpoint = load_checkpoint(checkpoint_dir / "diabetes_mlp" / "model.pt")
    rows = load_diabetes_splits(seed=checkpoint["data"]["split"]["seed"], log=lambda _: None).test_x
    records = [dict(zip(FEATURES, row)) for row in rows.tolist()]
    eager = handler_class("diabetes_mlp")(checkpoint)
    expected = [answer.body for answer in eager.handle([Request(record) for record in records])]

    def predict(record):
        return requests.post(f"{server.inference_url}/predictions/diabetes_mlp", json=record,
                             headers=bearer(server.inference_key()), timeout=HTTP_TIMEOUT)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(predict, records))
    assert [response.status_code for response in responses] == [200] * len(records)
    assert [response.json() for response in responses] == expected
    # The worker really runs the compiled package, not an eager fallback.
    assert "as aoti" in server.log_tail(400)
