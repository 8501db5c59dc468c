"""The README's commands, run for real: its curl example against a real TorchServe, its Java message."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools.java import java_problem

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def example(model):
    """The shell block after `<!-- readme-test: MODEL -->` and the JSON block after it."""
    pattern = (rf"<!-- readme-test: {model} -->\s*```sh\n(?P<command>.*?)```\s*"
               rf"```json\n(?P<expected>.*?)```")
    match = re.search(pattern, README, re.DOTALL)
    assert match, f"README has no tested example for {model}"
    return match["command"], json.loads(match["expected"])


@pytest.mark.parametrize("model", ["digits_cnn"])
def test_readme_curl_example_answers_as_shown(server, model):
    command, expected = example(model)
    # Point the command at the test server: its address and its key file.
    command = command.replace("http://127.0.0.1:8080", server.inference_url)
    command = command.replace(".venv/bin/python", sys.executable)
    env = {**os.environ, "TORCHSERVE_KEY_FILE": str(server.keys.path),
           "TORCHSERVE_CONFIG": str(server.config_path)}
    result = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["label"] == expected["label"]
    assert [e["label"] for e in answer["top_k"]][:1] == [expected["top_k"][0]["label"]]
    assert answer["probability"] == pytest.approx(expected["probability"], abs=0.05)
    assert set(answer) == set(expected)


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
