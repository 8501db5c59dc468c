import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

from harness.examples import subject
from models.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = str(ROOT / "archive.sh")
MODEL = subject("archive")


def run_archive(*args, path=None):
    env = dict(os.environ)
    env["PATH"] = path if path is not None else f"{Path(sys.executable).parent}:{env['PATH']}"
    return subprocess.run([ARCHIVE, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=300)


def test_archive_ships_checkpoint_code_and_model_config(model_store, checkpoint_dir):
    with zipfile.ZipFile(model_store / f"{MODEL}.mar") as mar:
        names = set(mar.namelist())
        manifest = json.loads(mar.read("MAR-INF/MANIFEST.json"))
        shipped_config = yaml.safe_load(mar.read(f"{MODEL}.yaml"))
        shipped_model_code = mar.read(f"models/{MODEL}.py")
    assert {"model.pt", "torchserve_handler.py", "handlers/base.py", f"handlers/{MODEL}.py",
            f"models/{MODEL}.py", "models/checkpoint.py"} <= names
    assert not any("__pycache__" in name for name in names)
    assert manifest["model"]["modelName"] == MODEL
    checkpoint = load_checkpoint(checkpoint_dir / MODEL / "model.pt")
    assert manifest["model"]["modelVersion"] == checkpoint["version"]
    assert manifest["model"]["handler"] == "torchserve_handler.py"
    # The very module training imported, so serving cannot drift from it.
    assert shipped_model_code == (ROOT / "models" / f"{MODEL}.py").read_bytes()
    assert shipped_config == yaml.safe_load((ROOT / "model-config" / f"{MODEL}.yaml").read_text())
    assert {"minWorkers", "maxWorkers", "batchSize", "maxBatchDelay", "responseTimeout"} <= set(
        shipped_config)


def test_version_flag_overrides_the_checkpoint_version(checkpoint_dir, tmp_path):
    result = run_archive("--version", "2.5", "--checkpoints", checkpoint_dir,
                         "--model-store", tmp_path, MODEL)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / f"{MODEL}.mar") as mar:
        assert json.loads(mar.read("MAR-INF/MANIFEST.json"))["model"]["modelVersion"] == "2.5"


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    result = run_archive("--checkpoints", tmp_path / "none", "--model-store", tmp_path, MODEL)
    assert result.returncode != 0
    assert f"no checkpoint for {MODEL}" in result.stderr
    assert f"python -m training.{MODEL}" in result.stderr
    assert not list(tmp_path.glob("*.mar"))


def test_unknown_model_and_option_are_clear_errors(tmp_path):
    result = run_archive("--model-store", tmp_path, "resnet")
    assert result.returncode != 0 and "unknown model 'resnet'" in result.stderr
    result = run_archive("--frobnicate")
    assert result.returncode != 0 and "unknown option --frobnicate" in result.stderr


def test_missing_archiver_is_a_clear_error(checkpoint_dir, tmp_path):
    # A copy of the script outside the repository sees no .venv, and PATH has
    # only the basic tools: no torch-model-archiver anywhere.
    script_dir = tmp_path / "repo"
    script_dir.mkdir()
    shutil.copy(ARCHIVE, script_dir / "archive.sh")
    result = subprocess.run([str(script_dir / "archive.sh"), "--checkpoints", str(checkpoint_dir)],
                            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
                            timeout=60)
    assert result.returncode != 0
    assert "torch-model-archiver not found" in result.stderr


def test_handler_classes_ship_their_package_and_the_worker_builds_from_it(checkpoint_dir, tmp_path):
    from bench import handlers_before
    from handlers import handler_class
    from handlers.torchserve_handler import HANDLER_CLASSES_FILE, handler_class_in
    result = run_archive("--handler-classes", handlers_before.__name__, "--checkpoints",
                         checkpoint_dir, "--model-store", tmp_path / "store", MODEL)
    assert result.returncode == 0, result.stderr
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(tmp_path / "store" / f"{MODEL}.mar") as mar:
        names = set(mar.namelist())
        mar.extractall(unpacked)
    package = handlers_before.__name__.replace(".", "/")
    shipped = {f"{package}/{path.name}" for path in (ROOT / package).glob("*.py")}
    assert shipped <= names and f"{package.split('/')[0]}/__init__.py" in names
    # Of the packages above it, only their __init__.py travels.
    assert not any(name.startswith(package.split("/")[0] + "/") and name.count("/") == 1
                   and not name.endswith("__init__.py") for name in names)
    assert (unpacked / HANDLER_CLASSES_FILE).read_text().strip() == handlers_before.__name__
    assert handler_class_in(unpacked)(MODEL).__name__ == handlers_before.handler_class(MODEL).__name__
    # Without the option the worker builds the handlers as they are.
    (unpacked / HANDLER_CLASSES_FILE).unlink()
    assert handler_class_in(unpacked) is handler_class


def test_handler_classes_must_name_a_package(checkpoint_dir, tmp_path):
    for wrong in ("../handlers", "bench.no_such_package"):
        result = run_archive("--handler-classes", wrong, "--checkpoints", checkpoint_dir,
                             "--model-store", tmp_path, MODEL)
        assert result.returncode != 0 and "--handler-classes" in result.stderr, wrong
    assert not list(tmp_path.glob("*.mar"))
