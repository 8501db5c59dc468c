"""The README's commands, run for real: every model's curl example against a real TorchServe, its Java message."""

import base64
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from harness.java import java_problem
from harness.settings import model_families
from models.checkpoint import load_checkpoint
from tests.in_process import expected_answers
from tests.under_test import MODELS
from tools.serve import curl_command

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
# <!-- readme-test: MODEL --> marks a ```sh block with a curl, then a ```json block with its answer;
# "MODEL (answer shape)", a section tools.new_family wrote before any model was trained: its
# answer shows only what an answer looks like.
EXAMPLES = {match["model"]: (match["command"], json.loads(match["expected"])) for match in re.finditer(
    r"<!-- readme-test: (?P<model>\w+)(?: \(answer shape\))? -->\s*```sh\n(?P<command>.*?)```\s*"
    r"```json\n(?P<expected>.*?)```", README, re.DOTALL)}
SHAPE_ONLY = set(re.findall(r"<!-- readme-test: (\w+) \(answer shape\) -->", README))


def assert_like(answer, expected, where="answer"):
    """A fresh answer matches the README's: same shape and labels, numbers near, images alike.

    The README shows one training run's answer; a model trained with another
    seed or on another CPU gives other numbers, and may rank the digits it
    gives almost no chance in another order. So numbers need only be near,
    labels shown with a probability below 0.5 only be labels; the answered
    label, digits and seeds must be the same. Images are compared as 8×8
    PNGs, not as bytes.
    """
    if isinstance(expected, dict):
        assert isinstance(answer, dict) and set(answer) == set(expected), where
        unsure = isinstance(expected.get("probability"), (int, float)) and \
            expected["probability"] < 0.5
        for key in expected:
            if key == "label" and unsure:
                assert isinstance(answer[key], str), f"{where}.{key}"
                continue
            assert_like(answer[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(answer, list) and len(answer) == len(expected), where
        for index, (got, want) in enumerate(zip(answer, expected)):
            assert_like(got, want, f"{where}[{index}]")
    elif where.split(".")[-1].startswith("images["):
        image = Image.open(io.BytesIO(base64.b64decode(answer, validate=True)))
        assert (image.format, image.size) == ("PNG", (8, 8)), where
    elif isinstance(expected, float):
        # Probabilities within 0.1, other figures within 20%: other seeds, same model.
        assert answer == pytest.approx(expected, rel=0.2, abs=0.1), where
    else:
        assert answer == expected, where


def test_every_served_model_has_a_readme_example():
    assert sorted(EXAMPLES) == model_families()


@pytest.mark.parametrize("model", sorted(EXAMPLES))
def test_make_serve_prints_the_readme_command(model):
    command, _ = EXAMPLES[model]
    assert curl_command(SimpleNamespace(inference_url="http://127.0.0.1:8080"), model) == \
        command.strip()


def sample_request(command):
    """A README curl command → (the samples/ file it sends, its content type)."""
    body = re.search(r"--data-binary @(\S+)", command)[1]
    content_type = re.search(r'-H "Content-Type: ([^"]+)"', command)[1]
    return (ROOT / body).read_bytes(), content_type


@pytest.mark.parametrize("model", sorted(EXAMPLES))
def test_readme_curl_example_answers_as_shown(server, checkpoint_dir, model):
    if model not in MODELS:
        pytest.skip(f"{model} is not served in this run (TEST_MODELS)")
    command, expected = EXAMPLES[model]
    # Point the command at the test server: its address and its key file.
    command = command.replace("http://127.0.0.1:8080", server.inference_url)
    command = command.replace(".venv/bin/python", sys.executable)
    env = {**os.environ, "TORCHSERVE_KEY_FILE": str(server.keys.path),
           "TORCHSERVE_CONFIG": str(server.config_path)}
    result = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    # The served answer is exactly the checkpoint's own, and it says what the README says.
    body, content_type = sample_request(command)
    assert [answer] == expected_answers(checkpoint_dir, model, [body], content_type)
    if model in SHAPE_ONLY:
        assert_shaped_like(answer, expected, load_checkpoint(checkpoint_dir / model / "model.pt"))
    else:
        assert_like(answer, expected)


def assert_shaped_like(answer, expected, checkpoint):
    """An answer has the README answer's fields, each of its type, and any label is one of the
    checkpoint's: what a section written before training can promise."""
    assert isinstance(answer, dict) and set(answer) == set(expected), answer
    for key, value in expected.items():
        assert isinstance(answer[key], (int, float) if isinstance(value, (int, float))
                          else type(value)), key
    if "label" in expected:
        assert answer["label"] in checkpoint["labels"]


def test_readme_shows_the_message_make_serve_gives_without_java(tmp_path):
    # BIN points nowhere, so even a broken check could not go on to install or serve.
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "no-java")}
    result = subprocess.run(["make", "--no-print-directory", "serve", f"BIN={tmp_path}/none"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    shown = re.search(r"Without Java, `make serve`.*?```\n(.*?)```", README, re.DOTALL)[1]
    assert shown.startswith("error: Java was not found.")
    assert shown.strip() in result.stderr
    assert java_problem() is None  # while the real Java is found


def layout_entries():
    """The README's Layout block → (path named, line) for every file and folder it names: a
    line at column 0 names a top-level one (and is the folder of the indented lines below it),
    an indented line names, before its two-space gap, files or folders in that folder."""
    block = re.search(r"## Layout\n\n```\n(.*?)```", README, re.DOTALL)[1]
    folder, entries = "", []
    for line in block.splitlines():
        if not line.strip() or line.startswith(" " * 8):  # a wrapped description
            continue
        names = re.split(r"\s{2,}", line.strip())[0]
        for name in (n.strip() for n in names.split(",")):
            if line.startswith(" "):
                entries.append((folder + name, line))
            else:
                entries.append((name, line))
                folder = name if name.endswith("/") else ""
    return entries


def test_the_layout_names_only_what_is_there_and_every_top_level_folder():
    entries = layout_entries()
    missing = [(path, line) for path, line in entries
               if "<family>" not in path and not (ROOT / path).exists()]
    assert missing == []
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    folders = {path.split("/")[0] + "/" for path in tracked if "/" in path} - {".ci/"}
    named = {path for path, _ in entries}
    # model_store/ holds only its .gitkeep: the README's next line names it as build output.
    assert folders - named - {"model_store/"} == set()
