"""Every HTTP call the project makes has a timeout: a TorchServe whose worker cannot start would
otherwise leave the caller hanging for ever."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HTTP_METHODS = {"get", "post", "put", "delete", "patch", "head", "request"}
CLIENTS = {"requests", "session"}  # the requests module, and requests.Session objects named so


def calls_without_timeout(path: Path) -> list:
    """A Python file → the line of each requests call in it that passes no timeout."""
    missing = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in HTTP_METHODS and isinstance(node.func.value, ast.Name)
                and node.func.value.id in CLIENTS
                and not any(keyword.arg == "timeout" for keyword in node.keywords)):
            missing.append(node.lineno)
    return missing


def test_every_requests_call_has_a_timeout():
    sources = [path for folder in ("tools", "tests", "reliability", "handlers", "training", "bench",
                                   "client")
               for path in (ROOT / folder).rglob("*.py")]
    assert len(sources) > 20
    assert [f"{path.relative_to(ROOT)}:{line}"
            for path in sources for line in calls_without_timeout(path)] == []


def test_the_check_finds_a_call_without_timeout(tmp_path):
    sample = tmp_path / "client.py"
    sample.write_text("import requests\n"
                      "requests.get('http://127.0.0.1:1/', timeout=5)\n"
                      "requests.post('http://127.0.0.1:1/', data=b'')\n")
    assert calls_without_timeout(sample) == [3]
