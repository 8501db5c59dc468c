"""Where the project's shared code names a family: the rule that a family is its own files.

A family's own files are those named for it (models/<family>.py, handlers/<family>.py,
families/<family>*.py, training/<family>*.py, tests/test_<family>_*.py, …); every other module
learns about families from model-config/ and from those files, by name, so adding a family edits
no list. Docstrings and comments may name a family as an example; code may not.
"""

import ast
from pathlib import Path

from harness.settings import ROOT, model_families

# The layers that must know no family by name.
CHECKED = ("harness/", "tools/", "bench/", "reliability/", "client/", "handlers/", "families/",
           "tests/")


def own_files(path: str, families) -> bool:
    """Whether a path is one of a family's own files: its name starts with the family's, or
    with test_<family>."""
    name = Path(path).name
    return any(name.startswith((family, f"test_{family}")) for family in families)


def docstrings(tree) -> set:
    """A module's tree → the ids of its docstring nodes (module, classes, functions)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def named_families(source: str, families) -> list:
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
        found += [(node.lineno, family) for text in texts for family in families
                  if family in text]
    return found


def shared_modules(families) -> list:
    """The Python files of the checked layers that are no family's own."""
    return sorted(path.relative_to(ROOT).as_posix() for folder in CHECKED
                  for path in (ROOT / folder).rglob("*.py")
                  if "__pycache__" not in path.parts and not own_files(path.name, families))


def names_in_shared_code(name: str) -> list:
    """A would-be family name → "path:line" wherever shared code already holds it, so that
    making it a family would break the rule."""
    families = [*model_families(), name]
    return [f"{path}:{line}" for path in shared_modules(families)
            for line, found in named_families((ROOT / path).read_text(), [name])]
