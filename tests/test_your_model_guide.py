"""docs/your-model.md, run for real: every command it marks, in order, in one scratch copy of the
repository, each printing what the guide shows under it.

The copy serves on free ports (its config.properties is rewritten, and the guide's
127.0.0.1:8080 with them), and the guide's /tmp paths become the test's own folder, so runs
never meet. Output is matched line by line in order; "…" stands for anything.

Two shortcuts keep it to a few minutes, neither of which skips a command of the guide: the copy
holds only the families the guide makes (the others' own files are removed, so `make serve`
archives and starts those alone), and before a `make` step every family the guide
made after its first one gets a dry-run checkpoint (`--dry-run`: one epoch of two batches), so
`make` finds it trained; the first family is trained in full by `make serve` itself, and each
kind's training runs in full in tools.kind_figures and in the families' own tests.
"""

import re
import subprocess
import time

import pytest

from harness.family_names import own_files
from harness.settings import ROOT, model_families
from harness.torchserve import private_config, read_properties
from harness.scratch import copy_repository, run_in

GUIDE = ROOT / "docs" / "your-model.md"
# <!-- guide: run --> (or "run, fails") before a ```sh block; a ```text block after it holds
# what the command prints.
STEP = re.compile(r"<!-- guide: run(?P<fails>, fails)? -->\s*```sh\n(?P<command>.*?)```"
                  r"(?:\s*```text\n(?P<printed>.*?)```)?", re.DOTALL)
STEP_TIMEOUT_S = 900

pytestmark = pytest.mark.serving


def guide_steps() -> list:
    return [(match["command"], match["printed"] or "", bool(match["fails"]))
            for match in STEP.finditer(GUIDE.read_text())]


def line_pattern(line: str):
    """A line the guide shows → a regex for the printed line, "…" matching anything."""
    return re.compile(".*".join(re.escape(part) for part in line.rstrip().split("…")))


def missing_lines(shown: str, printed: str) -> list:
    """The guide's lines that the printed output does not hold, in this order."""
    lines = [line.rstrip() for line in printed.splitlines()]
    position, missing = 0, []
    for line in shown.splitlines():
        if line.strip() in ("", "…"):
            continue
        pattern = line_pattern(line)
        found = next((i for i in range(position, len(lines)) if pattern.fullmatch(lines[i])), None)
        if found is None:
            missing.append(line)
        else:
            position = found + 1
    return missing


def test_the_matcher_holds_lines_in_order_with_anything_for_an_ellipsis():
    assert missing_lines("a …\n…\nc", "a b\nx\nc") == []
    assert missing_lines("c\na …", "a b\nc") == ["a …"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory, checkpoint_dir):
    """A copy of the repository serving on free ports and only the families the guide makes,
    and a folder standing for /tmp."""
    copy = copy_repository(tmp_path_factory.mktemp("guide") / "repository", checkpoint_dir)
    private_config(copy, "model_store")  # the copy's config.properties, on free ports
    families = model_families()
    for folder in ("models", "handlers", "families", "training", "tests", "model-config"):
        for path in (copy / folder).iterdir():
            if path.is_file() and own_files(path.name, families):
                path.unlink()
    return copy, tmp_path_factory.mktemp("guide_tmp")


def families_made(copy) -> list:
    """The families the guide has made so far in the copy, first made first."""
    return sorted((path.stem for path in (copy / "model-config").glob("*.yaml")),
                  key=lambda family: (copy / "model-config" / f"{family}.yaml").stat().st_mtime)


def dry_run_checkpoints(copy):
    """Every family made after the first and not trained yet → a dry-run checkpoint."""
    for family in families_made(copy)[1:]:
        if not (copy / "checkpoints" / family / "model.pt").exists():
            run_in(copy, "python", "-m", f"training.{family}", "--dry-run",
                   "--out", f"checkpoints/{family}")


@pytest.mark.timeout(1800)  # it trains four families and starts TorchServe twice
def test_every_command_of_the_guide_prints_what_it_shows(scratch):
    copy, tmp = scratch
    url = read_properties(copy / "config.properties")["inference_address"]

    def here(text):
        return text.replace("http://127.0.0.1:8080", url).replace("/tmp/", f"{tmp}/")

    steps = guide_steps()
    assert len(steps) >= 15, "the guide lost its marked commands"
    try:
        for command, shown, fails in steps:
            started = time.monotonic()
            if command.startswith("make"):
                dry_run_checkpoints(copy)
            if fails:
                result = subprocess.run(["bash", "-c", here(command)], cwd=copy,
                                        capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
                assert result.returncode != 0, command
                printed = result.stdout + result.stderr
            else:
                printed = run_in(copy, "bash", "-c", here(command), timeout=STEP_TIMEOUT_S)
            print(f"{time.monotonic() - started:5.1f} s  {command.splitlines()[0]}")
            missing = missing_lines(here(shown), printed)
            assert not missing, f"{command}\nprinted:\n{printed[-4000:]}\nnot shown: {missing}"
    finally:
        subprocess.run(["bash", "-c", "make stop"], cwd=copy, capture_output=True, timeout=120)
