"""A family is its own files: one added to a scratch copy of the repository, and nothing else
changed, is trained, archived, served and answered, benchmarked, load-checked and bundled for
KServe by the project's own commands.

The new family is an existing one's files under a new name (the family that names itself the
subject of "new family template": it trains in seconds), so every layer above the family
(archive.sh, the serve tool, the benchmark, the reliability checks, the KServe bundle) must find
it by its files alone.
"""

import json
import re
import shlex

import pytest

from harness.examples import subject
from harness.torchserve import private_config
from harness.scratch import copy_repository, run_in

# Every test here runs the project's serving commands in the copy.
pytestmark = pytest.mark.serving

NEW = "scratch_family"
# A family's own files: where each layer finds it.
OWN_FILES = ("models/{}.py", "handlers/{}.py", "families/{}.py", "training/{}.py",
             "model-config/{}.yaml")


def add_family_as_copy_of(repository, family, new):
    """Write `new`'s own files as copies of `family`'s, every mention of the name replaced; a
    copy names itself the subject of no check (another family already is)."""
    for pattern in OWN_FILES:
        text = (repository / pattern.format(family)).read_text().replace(family, new)
        text = re.sub(r"^SUBJECT_OF = .*$", "SUBJECT_OF = ()", text, flags=re.MULTILINE)
        (repository / pattern.format(new)).write_text(text)


@pytest.fixture(scope="module")
def repository(tmp_path_factory, checkpoint_dir):
    """A scratch copy of the repository with NEW added and trained."""
    copy = copy_repository(tmp_path_factory.mktemp("scratch") / "repository", checkpoint_dir)
    add_family_as_copy_of(copy, subject("new family template"), NEW)
    run_in(copy, "python", "-m", f"training.{NEW}", "--out", f"checkpoints/{NEW}")
    return copy


def in_process_answer(repository, model) -> dict:
    """The answer the copy's handler gives its own sample request, in its own process."""
    script = ("import json, sys; from handlers import handler_class; "
              "from harness.examples import sample_body; from handlers.messages import Request; "
              f"handler = handler_class('{model}').from_checkpoint_file('checkpoints/{model}/model.pt'); "
              f"[answer] = handler.handle([Request(*sample_body('{model}'))]); "
              "print(json.dumps(answer.body))")
    return json.loads(run_in(repository, "python", "-c", script).splitlines()[-1])


def test_the_new_family_is_archived_served_and_answers_its_sample(repository):
    printed = run_in(repository, "./archive.sh", NEW)
    assert f"model_store/{NEW}.mar" in printed
    serving = repository / "serving"
    serving.mkdir()
    config = private_config(serving, repository / "model_store")
    keys = {"TORCHSERVE_KEY_FILE": str(serving / "key_file.json"),
            "TORCHSERVE_CONFIG": str(config)}
    started = run_in(repository, "python", "-m", "tools.serve", "start", "--config", config)
    try:
        assert f"{NEW}: 1 worker(s) READY" in started
        [curl] = [block for block in started.split("\n\n") if f"/predictions/{NEW} " in block]
        answer = json.loads(run_in(repository, "bash", "-c", curl, env=keys))
    finally:
        run_in(repository, "python", "-m", "tools.serve", "stop", "--config", config)
    assert answer == in_process_answer(repository, NEW), shlex.split(curl)[:4]


def test_the_benchmark_measures_the_new_family_with_every_answer_right(repository):
    out = repository / "bench-quick"
    run_in(repository, "python", "-m", "bench", "--quick", "--no-peer", "--models", NEW,
           "--out", out)
    [result] = [json.loads(path.read_text()) for path in out.glob("*.json")]
    served = [point for point in result["points"] if point["model"] == NEW]
    assert served and all(point["requests"] > 0 and point["wrong"] == 0 for point in served)
    assert NEW in result["compute"]


def test_the_load_check_serves_the_new_family_every_answer_right(repository):
    printed = run_in(repository, "python", "-m", "reliability.load", "--dry-run", "--models", NEW)
    assert re.search(rf"\| {NEW} \| [\d,]+ \| 0 \|", printed), printed[-2000:]


def test_the_kserve_bundle_carries_the_new_family(repository):
    run_in(repository, "python", "-m", "tools.kserve_bundle", "--out", "bundle", NEW)
    assert (repository / "bundle" / "model-store" / f"{NEW}.mar").exists()
    config = (repository / "bundle" / "config" / "config.properties").read_text()
    assert f'"{NEW}"' in config
