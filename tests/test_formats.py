"""Model formats: each kept format answers as eager does, in process; a format a family cannot
be served in is refused by name. A kept format on a real TorchServe: test_<family>_formats.py.

The rule (tools/compare_formats.py): each family's `agreement` in families/<family>.py, over its
whole test split, batched and one request at a time.
"""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from handlers import handler_class
from handlers.formats import FORMAT_FILE, PACKAGE_FILE, FormatError, build_package, format_in
from harness.examples import hook, subject
from models.checkpoint import load_checkpoint
from tests.under_test import MODELS
from tools.compare_formats import agreement, batches, outputs, settings, split_inputs

ROOT = Path(__file__).resolve().parent.parent
# Formats kept for a family (KEPT_FORMATS): faster than eager and within the rule
# (figures from python -m tools.compare_formats, in docs/performance.md).
KEPT = [(family, model_format) for family in MODELS
        for model_format in hook(family, "KEPT_FORMATS", ())]
# Compiling takes seconds to tens of seconds a model: make test-fast leaves these out.
COMPILING = ("aoti", "compile")
ANY = MODELS[0]  # for what holds for every family
COMPILED = [family for family, model_format in KEPT if model_format == "compile"]


def handler(checkpoint_dir, family, model_format="eager", package=None):
    """Family → its handler over the test checkpoint, in `model_format`."""
    checkpoint = load_checkpoint(checkpoint_dir / family / "model.pt")
    return handler_class(family)(checkpoint, "cpu", model_format, package)


@pytest.mark.parametrize("family, model_format", [
    pytest.param(family, model_format, marks=[pytest.mark.slow] * (model_format in COMPILING))
    for family, model_format in KEPT])
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
    eager = handler(checkpoint_dir, ANY)
    assert eager.served is eager.model


def test_formats_that_cannot_serve_a_model_are_refused_by_name(checkpoint_dir, tmp_path):
    with pytest.raises(FormatError, match="unknown model format 'onnx'"):
        handler(checkpoint_dir, ANY, "onnx")
    with pytest.raises(FormatError, match="needs its model.pt2"):
        handler(checkpoint_dir, ANY, "aoti", tmp_path / "missing.pt2")
    # A family's own refusals (REFUSED_FORMATS): aoti's when its package is built, as
    # archive.sh builds it; any other's when the handler is.
    for family in MODELS:
        for model_format, message in hook(family, "REFUSED_FORMATS", {}).items():
            with pytest.raises(FormatError, match=message):
                if model_format == "aoti":
                    build_package(handler(checkpoint_dir, family), tmp_path / PACKAGE_FILE)
                else:
                    handler(checkpoint_dir, family, model_format)


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
    result = archive("--format", "onnx", "--model-store", tmp_path, subject("archive"))
    assert result.returncode != 0 and "unknown format 'onnx'" in result.stderr
    assert not list(tmp_path.glob("*.mar"))


@pytest.mark.skipif(not COMPILED, reason="no family under test keeps the compile format")
@pytest.mark.slow
def test_compile_is_done_at_worker_start_not_in_the_first_requests(checkpoint_dir):
    from torch._dynamo.utils import counters

    served = handler(checkpoint_dir, COMPILED[0], "compile")
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
