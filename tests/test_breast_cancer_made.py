"""breast_cancer is the scaffold's work: the guide's commands, run in a copy of the repository
without the family, write every one of its files as committed, but for the changes the guide
tells a user to make (its test's accuracy threshold; its README section is not compared)."""

import re

import pytest

from harness.settings import ROOT
from harness.scratch import copy_repository, run_in

FAMILY = "breast_cancer"
WRITTEN = [f"models/{FAMILY}.py", f"handlers/{FAMILY}.py", f"training/{FAMILY}.py",
           f"families/{FAMILY}.py", f"model-config/{FAMILY}.yaml", f"samples/{FAMILY}.json",
           f"training/data/{FAMILY}/data.csv"]
TEST = f"tests/test_{FAMILY}_model.py"

pytestmark = pytest.mark.slow


def guide_commands() -> str:
    guide = (ROOT / "docs" / "your-model.md").read_text()
    return re.search(rf"<!-- guide: remakes {FAMILY} -->\s*```sh\n(.*?)```", guide, re.DOTALL)[1]


def test_the_guides_commands_write_the_family_as_committed(tmp_path, checkpoint_dir):
    copy = copy_repository(tmp_path / "repository", checkpoint_dir)
    for path in [*WRITTEN, TEST]:
        (copy / path).unlink()
    (copy / "checkpoints" / FAMILY).unlink(missing_ok=True)
    (copy / "model-config" / f"{FAMILY}.yaml").unlink(missing_ok=True)
    commands = guide_commands().replace("/tmp/", f"{tmp_path}/")
    run_in(copy, "bash", "-c", commands)
    for path in WRITTEN:
        assert (copy / path).read_bytes() == (ROOT / path).read_bytes(), path
    made, committed = ((folder / TEST).read_text().splitlines() for folder in (copy, ROOT))
    changed = [line for line in committed if line not in made]
    # The guide's first change: the accuracy measured over seeds, asked for with a margin.
    assert changed and all("accuracy" in line or line.lstrip().startswith("#")
                           for line in changed), changed
