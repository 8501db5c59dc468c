"""A scratch copy of the repository, to change as a user would and run its own commands in.

Tests and tools that add a family copy the working tree (tracked files and untracked ones git
does not ignore), so the commands they run see the change and nothing else: the repository
itself is never edited. The copy shares this checkout's virtual environment and trained
checkpoints.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness.settings import ROOT

COMMAND_TIMEOUT_S = 600


def copy_repository(destination, checkpoints) -> Path:
    """The working tree → a copy at `destination`, with this .venv and a checkpoints/ folder
    linking each model folder of `checkpoints`."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode()
    destination = Path(destination)
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a file deleted in the work tree is still listed as cached
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (destination / ".venv").symlink_to(sys.prefix)  # the environment running the tests
    (destination / "checkpoints").mkdir()
    for trained in Path(checkpoints).iterdir():
        if (trained / "model.pt").exists():
            (destination / "checkpoints" / trained.name).symlink_to(trained.resolve())
    return destination


class CommandFailed(AssertionError):
    """A command run in a copy exited non-zero; the message holds what it printed."""


def run_in(repository, *command, timeout=COMMAND_TIMEOUT_S, env=None) -> str:
    """A command run in `repository` (python means this interpreter) with a private temp dir →
    what it printed; raises CommandFailed, with all it printed, when it exits non-zero."""
    command = [sys.executable if part == "python" else str(part) for part in command]
    private_tmp = Path(repository) / ".tmp"
    private_tmp.mkdir(exist_ok=True)
    environment = {**os.environ, "TMPDIR": str(private_tmp), "TEMP": str(private_tmp),
                   "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                   **(env or {})}
    environment.pop("CHECKPOINT_DIR", None)  # the copy's own checkpoints/
    result = subprocess.run(command, cwd=repository, env=environment, capture_output=True,
                            text=True, timeout=timeout)
    printed = result.stdout + result.stderr
    if result.returncode != 0:
        raise CommandFailed(f"{' '.join(command)} exited {result.returncode}:\n{printed[-6000:]}")
    return printed
