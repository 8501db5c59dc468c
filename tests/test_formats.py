"""Model formats: each kept format answers as eager does, in process and on a real TorchServe.

The rule (tools/compare_formats.py): classifiers give the same top-1 label on
the whole test split, the regressor's predictions stay within 1e-3 relative,
the GAN's pixels within 1 grey level; batched and one request at a time.
"""

import os
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from handlers import handler_class
from handlers.formats import FORMAT_FILE, PACKAGE_FILE, FormatError, build_package, format_in
from handlers.messages import Request
from harness.archives import build_store
from harness.torchserve import HTTP_TIMEOUT, bearer, start_private
from models.checkpoint import load_checkpoint
from models.diabetes_mlp import FEATURES
from tools.compare_formats import agreement, batches, outputs, settings, split_inputs
from training.diabetes_data import load_diabetes_splits

ROOT = Path(__file__).resolve().parent.parent
# Formats kept for a family: faster than eager and within the rule
# (figures from python -m tools.compare_formats, in docs/performance.md).
KEPT = [("diabetes_mlp", "aoti"), ("digits_cnn", "aoti"), ("digits_cnn", "compile"),
        ("digits_cnn", "int8"), ("digits_gan", "aoti")]


def handler(checkpoint_dir, family, model_format="eager", package=None):
    """Family → its handler over the test checkpoint, in `model_format`."""
    checkpoint = load_checkpoint(checkpoint_dir / family / "model.pt")
    return handler_class(family)(checkpoint, "cpu", model_format, package)


@pytest.mark.parametrize("family, model_format", KEPT)
def test_kept_format_answers_like_eager_on_the_test_split(checkpoint_dir, tmp_path, family,
                                                          model_format):
    eager = handler(checkpoint_dir, family)
    package = build_package(eager, tmp_path / PACKAGE_FILE) if model_format == "aoti" else None
    served = handler(checkpoint_dir, family, model_format, package)
    inputs = split_inputs(eager)
    expected = outputs(eager, batches(eager, inputs, settings(family)["batchSize"]))
    for size in (settings(family)["batchSize"], 1):
        got = outputs(served, batches(served, inputs, size))
        assert agreement(family, expected, got) == "", (model_format, size)
    assert served.model_format == model_format and served.served is not served.model


def test_eager_serves_the_module_itself(checkpoint_dir):
    eager = handler(checkpoint_dir, "digits_cnn")
    assert eager.served is eager.model


def test_formats_that_cannot_serve_a_model_are_refused_by_name(checkpoint_dir, tmp_path):
    with pytest.raises(FormatError, match="unknown model format 'onnx'"):
        handler(checkpoint_dir, "digits_cnn", "onnx")
    with pytest.raises(FormatError, match="needs its model.pt2"):
        handler(checkpoint_dir, "digits_cnn", "aoti", tmp_path / "missing.pt2")
    # float64 keeps a record's answer independent of its batch; int8 would undo that.
    with pytest.raises(FormatError, match="float32"):
        handler(checkpoint_dir, "diabetes_mlp", "int8")
    # Packed sequences do not trace: the GRU stays eager, compiled or int8.
    with pytest.raises(FormatError, match="cannot be exported"):
        build_package(handler(checkpoint_dir, "sentiment_rnn"), tmp_path / PACKAGE_FILE)


def test_format_comes_from_the_archive_then_the_model_config(tmp_path):
    assert format_in(tmp_path, {}) == "eager"
    assert format_in(tmp_path, {"handler": {"format": "int8"}}) == "int8"
    (tmp_path / FORMAT_FILE).write_text("aoti\n")
    assert format_in(tmp_path, {"handler": {"format": "int8"}}) == "aoti"
    (tmp_path / FORMAT_FILE).write_text("tensorrt\n")
    with pytest.raises(FormatError, match="tensorrt"):
        format_in(tmp_path, {})


def archive(*args):
    """Run archive.sh with this interpreter's environment first on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run([str(ROOT / "archive.sh"), *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_unknown_format_is_a_clear_archive_error(tmp_path):
    result = archive("--format", "onnx", "--model-store", tmp_path, "digits_cnn")
    assert result.returncode != 0 and "unknown format 'onnx'" in result.stderr
    assert not list(tmp_path.glob("*.mar"))


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
    eager = handler(checkpoint_dir, "diabetes_mlp")
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


def test_compile_is_done_at_worker_start_not_in_the_first_requests(checkpoint_dir):
    from torch._dynamo.utils import counters

    served = handler(checkpoint_dir, "digits_cnn", "compile")
    compiled_graphs = counters["stats"]["unique_graphs"]
    assert compiled_graphs > 0
    inputs = split_inputs(served)
    for size in (1, 3, 8, 16):
        outputs(served, batches(served, inputs[:size], size))
    assert counters["stats"]["unique_graphs"] == compiled_graphs  # no recompilation


def test_default_archive_records_each_models_configured_format(model_store):
    for archive_path in sorted(model_store.glob("*.mar")):
        with zipfile.ZipFile(archive_path) as mar:
            shipped = mar.read(FORMAT_FILE).decode().strip()
        assert shipped == format_in(model_store / "none", settings(archive_path.stem))
