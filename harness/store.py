"""A model store's archives: what one holds, and a new one placed in it for registration."""

import filecmp
import shutil
import zipfile
from pathlib import Path

from harness.settings import archive_manifest
from harness.torchserve import ServerError


def manifest(archive) -> tuple:
    """A .mar file → (model name, version) from its MAR-INF/MANIFEST.json."""
    try:
        model = archive_manifest(archive)["model"]
        return model["modelName"], model["modelVersion"]
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as error:
        raise ServerError(f"{archive} is not a TorchServe archive: {error!r}") from None


def place_in_store(archive, store, model, version) -> str:
    """Archive → its file name in the model store, copied there as <model>_v<version>.mar if elsewhere."""
    archive, store = Path(archive).resolve(), Path(store).resolve()
    if archive.parent == store:
        return archive.name
    target = store / f"{model}_v{version}.mar"
    if target.exists() and not filecmp.cmp(archive, target, shallow=False):
        raise ServerError(f"{target} exists and differs from {archive}; remove it or archive "
                          f"under another --version")
    if not target.exists():
        shutil.copyfile(archive, target)
    return target.name
