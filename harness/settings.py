"""What the repository says about each model: which families it serves, their model-config
settings and format, their workers' torch threads, and what an archive's manifest says."""

import json
import zipfile
from pathlib import Path

import yaml

from handlers import hardware

ROOT = Path(__file__).resolve().parent.parent
MODEL_CONFIG = ROOT / "model-config"
CHECKPOINTS = ROOT / "checkpoints"


def model_families() -> list:
    """Every model family the repository serves: one per model-config/<model>.yaml."""
    return sorted(path.stem for path in MODEL_CONFIG.glob("*.yaml"))


def model_settings(model, config_dir=MODEL_CONFIG) -> dict:
    """Model → its serving settings from <config_dir>/<model>.yaml."""
    return yaml.safe_load((Path(config_dir) / f"{model}.yaml").read_text()) or {}


def model_format(model, chosen=None) -> str:
    """Model and the format asked for (None: not asked) → the format archive.sh will package it in:
    the one asked for, else model-config's handler.format, else eager."""
    return chosen or (model_settings(model).get("handler") or {}).get("format") or "eager"


def worker_threads(model, cores=None) -> int:
    """Model → the torch threads each of its TorchServe workers uses (the adapter's own rule)."""
    return hardware.worker_threads(model_settings(model), cores)


def write_model_configs(folder, models, overrides=None, config_dir=MODEL_CONFIG) -> Path:
    """Models' model-config files → copies in `folder`, with `overrides` (say {"batchSize": 1})
    set in each; without overrides the files are copied as written, comments and all."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for model in models:
        text = (Path(config_dir) / f"{model}.yaml").read_text()
        if overrides:
            text = yaml.safe_dump({**(yaml.safe_load(text) or {}), **overrides}, sort_keys=False)
        (folder / f"{model}.yaml").write_text(text)
    return folder


def archive_manifest(archive) -> dict:
    """A .mar file → its MAR-INF/MANIFEST.json."""
    with zipfile.ZipFile(archive) as mar:
        return json.loads(mar.read("MAR-INF/MANIFEST.json"))


def archived_model_names(model_store) -> list:
    """Model store → the model names inside its .mar files (from each manifest)."""
    return [archive_manifest(archive)["model"]["modelName"]
            for archive in sorted(Path(model_store).glob("*.mar"))]
