"""Make a new model family from your data, in the project's own layout, ready to train and serve.

    python -m tools.new_family NAME --kind KIND --data PATH

KIND, and what PATH is:
  image-classifier    a folder with one subfolder of pictures per class
  text-classifier     a CSV with columns text,label
  tabular-classifier  a CSV of numeric feature columns and a label column
  tabular-regressor   a CSV of numeric feature columns and a target column

It checks the data first (the same checks training makes), then writes the family's model,
handler, training script, examples, serving settings, a sample request, its tests and a README
section, and copies the data into training/data/NAME/. Nothing is written when anything is
wrong. Then `make serve` trains, archives and serves it beside the others, and `make test`
tests it.
"""

import argparse
import keyword
import re
import shutil
import sys
import tempfile
from pathlib import Path
from string import Template

from harness.family_names import names_in_shared_code
from harness.settings import ROOT, model_families
from tools.family_kinds import KINDS, Family, Kind
from training.tables import DataError

TEMPLATES = Path(__file__).resolve().parent / "family_templates"
# A family's section goes into the README just before this heading.
README_ANCHOR = "\n## Checkpoints\n"
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")


def camel_case(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def refuse(message: str):
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def check_name(name: str) -> None:
    """A new family's name → nothing, or exit with why it cannot be one."""
    if not NAME_PATTERN.fullmatch(name) or keyword.iskeyword(name):
        refuse(f"{name!r} is not a valid family name: use lower-case letters, digits and '_', "
               "starting with a letter (it becomes a Python module name)")
    if name in model_families():
        refuse(f"a family named {name!r} exists already (model-config/{name}.yaml)")
    for folder in ("models", "handlers", "training", "families", "tools", "harness", "tests"):
        if (ROOT / folder / f"{name}.py").exists() or (ROOT / folder / name).exists():
            refuse(f"{name!r} is already the name of {folder}/{name}: choose another")
    for other in model_families():
        if name.startswith(other) or other.startswith(name):
            refuse(f"{name!r} and the family {other!r} would share file names "
                   f"({other}_… is read as {other}'s own file): choose another")
    used = names_in_shared_code(name)
    if used:
        refuse(f"{name!r} already appears in the project's shared code ({used[0]}), which must "
               "never name a family: choose another")


def render(family: Family, kind: Kind) -> dict:
    """The family's values → {repository path: file text} for every template of its kind."""
    values = {"name": family.name, "Name": camel_case(family.name), "kind": family.kind,
              "summary": kind.summary, "data": family.own_data.as_posix(),
              "sample": f"samples/{family.name}{family.sample_suffix}", **family.values}
    files = {}
    for destination, template in kind.templates.items():
        text = Template((TEMPLATES / template).read_text()).substitute(values)
        files[destination.format(name=family.name)] = text
    return files


def readme_with(section: str) -> str:
    """The README with a family's section added before the Checkpoints section."""
    readme = (ROOT / "README.md").read_text()
    if README_ANCHOR not in readme:
        return readme.rstrip("\n") + "\n\n" + section
    return readme.replace(README_ANCHOR, f"\n{section.rstrip()}\n{README_ANCHOR}", 1)


def write_family(family: Family, files: dict) -> list:
    """Every file of the family, its sample, its data and the README → written in place; when
    anything fails, what was written is removed again. Returns the paths written."""
    sample = f"samples/{family.name}{family.sample_suffix}"
    targets = [*files, sample, family.own_data.as_posix()]
    clashes = [path for path in targets if (ROOT / path).exists()]
    if clashes:
        refuse(f"{', '.join(clashes)} exist(s) already: remove them or choose another name")
    readme = readme_with(files.pop("README section"))
    written = []
    try:
        for path, text in files.items():
            (ROOT / path).parent.mkdir(parents=True, exist_ok=True)
            written.append(ROOT / path)
            (ROOT / path).write_text(text)
        written.append(ROOT / sample)
        (ROOT / sample).write_bytes(family.sample)
        written.append(ROOT / family.own_data)
        copy_data(family.data, ROOT / family.own_data)
        (ROOT / "README.md").write_text(readme)
    except BaseException:
        for path in reversed(written):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        data_folder = ROOT / family.own_data.parent
        if data_folder.exists() and not any(data_folder.iterdir()):
            data_folder.rmdir()
        raise
    return [path.relative_to(ROOT).as_posix() for path in written]


def copy_data(source: Path, target: Path) -> None:
    """The user's data → the family's own copy (a CSV, or a folder of class folders)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        with tempfile.TemporaryDirectory(dir=target.parent) as staging:
            shutil.copytree(source, Path(staging) / "copy")
            (Path(staging) / "copy").rename(target)
    else:
        shutil.copyfile(source, target)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.new_family",
                                     description=__doc__.split("\n")[0], allow_abbrev=False,
                                     epilog=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="the family's name: lower-case letters, digits and '_'")
    parser.add_argument("--kind", required=True, choices=sorted(KINDS), help="what the model does")
    parser.add_argument("--data", required=True, type=Path, metavar="PATH",
                        help="the data to train on (a CSV, or a folder of class folders)")
    args = parser.parse_args(argv)

    check_name(args.name)
    kind = KINDS[args.kind]
    family = Family(args.name, args.kind, args.data)
    try:
        kind.inspect(family)
    except DataError as error:
        refuse(str(error))
    written = write_family(family, render(family, kind))
    print(f"wrote the {args.kind} family {args.name}:")
    for path in written:
        print(f"  {path}")
    print("  README.md (its section)")
    print(f"\nNext: make serve (trains, archives and serves {args.name} beside the others), "
          "then make test.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

