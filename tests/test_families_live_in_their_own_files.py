"""A family is its own files: no module outside them names a family in its code.

A family's own files are those named for it (models/<family>.py, handlers/<family>.py,
families/<family>*.py, training/<family>*.py, tests/test_<family>_*.py, …); everything
else learns about families from model-config/ and from those files, by name, so adding
a family edits no list. Docstrings and comments may name a family as an example.
"""

import ast
import subprocess
from pathlib import Path

import pytest

from harness.settings import ROOT, model_families

FAMILIES = model_families()
# The layers that must know no family by name.
CHECKED = ("harness/", "tools/", "bench/", "reliability/", "client/", "handlers/", "families/",
           "tests/")


def own_files(path: str) -> bool:
    """Whether a path is one of a family's own files: its name starts with the family's, or
    with test_<family>."""
    name = Path(path).name
    return any(name.startswith((family, f"test_{family}")) for family in FAMILIES)


def docstrings(tree) -> set:
    """A module's tree → the ids of its docstring nodes (module, classes, functions)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def named_families(source: str) -> list:
    """Python source → (line, family) for each name, import or string of its code naming a family."""
    tree = ast.parse(source)
    skip = docstrings(tree)
    found = []
    for node in ast.walk(tree):
        texts = []
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            texts = [node.value]
        elif isinstance(node, ast.Name):
            texts = [node.id]
        elif isinstance(node, ast.Attribute):
            texts = [node.attr]
        elif isinstance(node, ast.alias):
            texts = [node.name]
        elif isinstance(node, ast.ImportFrom):
            texts = [node.module or ""]
        found += [(node.lineno, family) for text in texts for family in FAMILIES
                  if family in text]
    return found


def checked_files() -> list:
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                              "*.py"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    return sorted(path for path in tracked
                  if path.startswith(CHECKED) and not own_files(path) and (ROOT / path).exists())


def test_the_rule_reads_names_strings_and_imports_but_not_docstrings():
    family = FAMILIES[0]
    source = (f'"""{family} in a docstring is fine."""\n'
              f"import models.{family}\nMODEL = '{family}'\n# {family} in a comment\n")
    assert named_families(source) == [(2, family), (3, family)]


@pytest.mark.parametrize("path", checked_files())
def test_no_module_outside_a_familys_files_names_a_family(path):
    assert named_families((ROOT / path).read_text()) == [], path
