"""A family is its own files: no module outside them names a family in its code.

A family's own files are those named for it (models/<family>.py, handlers/<family>.py,
families/<family>*.py, training/<family>*.py, tests/test_<family>_*.py, …); everything
else learns about families from model-config/ and from those files, by name, so adding
a family edits no list. Docstrings and comments may name a family as an example. The rule
itself is harness/family_names.py, which tools.new_family also asks before it takes a name.
"""

import pytest

from harness.family_names import named_families, names_in_shared_code, shared_modules
from harness.settings import ROOT, model_families

FAMILIES = model_families()


def test_the_rule_reads_names_strings_and_imports_but_not_docstrings():
    family = FAMILIES[0]
    source = (f'"""{family} in a docstring is fine."""\n'
              f"import models.{family}\nMODEL = '{family}'\n# {family} in a comment\n")
    assert named_families(source, FAMILIES) == [(2, family), (3, family)]


def test_a_name_shared_code_already_uses_is_found_where_it_stands():
    # "ROOT" is a name in shared code; a family called so would be named all over it.
    assert any(place.startswith("harness/") for place in names_in_shared_code("ROOT"))
    unused = "_".join(["nowhere"] * 3)  # built here, so this file does not hold it either
    assert names_in_shared_code(unused) == []


@pytest.mark.parametrize("path", shared_modules(FAMILIES))
def test_no_module_outside_a_familys_files_names_a_family(path):
    assert named_families((ROOT / path).read_text(), FAMILIES) == [], path
