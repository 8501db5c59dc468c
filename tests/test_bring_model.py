"""Bringing a model trained elsewhere (tools.bring_model): each format a notebook saves serves the
notebook's own answers through the family's handler, and every unsafe or unfitting file is
refused by name with nothing written."""

import copy
import hashlib
import importlib.util
import io
import json
import pickle
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import torch

from handlers import handler_class
from handlers.formats import FormatError
from handlers.messages import Request
from harness.archives import build_store
from harness.examples import hook, subject
from harness.torchserve import running_server
from models.brought import one_row_per_example
from models.checkpoint import (BROUGHT_FORMAT, CheckpointError, build_model, load_checkpoint,
                               network_file)
from models.program_files import ProgramError
from tests.calls import post
from tests.hostile import WritesMarker
from tools.bring_model import bring, main, parse_args
from tools.brought_model_checks import BringError, in_label_order

FAMILY = subject("bring a model")
# The notebook's model: plain PyTorch, raw features in, standardization inside, one column out.
NET_SOURCE = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, mean, std, hidden=8):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean))
        self.register_buffer("std", torch.tensor(std))
        self.layers = nn.Sequential(nn.Linear(len(mean), hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.layers((x - self.mean) / self.std) * 50.0 + 150.0
'''


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    """A folder as a notebook leaves it: net.py, the model saved three ways, its arguments; and
    the model itself (`model`) and its constructor arguments (`args`)."""
    folder = tmp_path_factory.mktemp("notebook")
    (folder / "net.py").write_text(NET_SOURCE)
    spec = importlib.util.spec_from_file_location("notebook_net", folder / "net.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["notebook_net"] = module  # TorchScript reads the class's source through it
    spec.loader.exec_module(module)
    train_x = hook(FAMILY, "evaluation_splits")().train_x
    args = {"mean": train_x.mean(0).tolist(), "std": train_x.std(0).tolist(), "hidden": 8}
    torch.manual_seed(0)
    model = module.Net(**args).eval()
    rows = train_x[:2]
    batch = torch.export.Dim("batch")
    torch.export.save(torch.export.export(model, (rows,), dynamic_shapes=({0: batch},)),
                      folder / "model.pt2")
    torch.export.save(torch.export.export(model, (rows[:1],)), folder / "static.pt2")
    torch.jit.save(torch.jit.script(model), folder / "scripted.pt")
    torch.save(model.state_dict(), folder / "state.pt")
    return {"folder": folder, "model": model, "args": args}


def bring_args(notebook, file, out, *options):
    """The command line that brings `file` from the notebook into `out`: a state_dict with its class."""
    path = notebook["folder"] / file
    class_options = (["--class", f"{notebook['folder'] / 'net.py'}:Net",
                      "--args", json.dumps(notebook["args"])] if file.startswith("state") else [])
    return [FAMILY, str(path), "--out", str(out / FAMILY), *class_options, *options]


@pytest.fixture(scope="module")
def network_file_kept():
    """models/<family>_network.py as it was before these tests, put back after them."""
    path = network_file(FAMILY)
    before = path.read_bytes() if path.exists() else None
    yield path
    if before is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(before)


@pytest.fixture(scope="module")
def brought(notebook, network_file_kept, tmp_path_factory):
    """File name → (what bring printed, the checkpoint folder) once brought."""
    done = {}

    def run(file):
        if file not in done:
            out = tmp_path_factory.mktemp("brought")
            done[file] = bring(parse_args(bring_args(notebook, file, out))), out / FAMILY
        return done[file]
    return run


def notebook_answers(handler, notebook, bodies, dtype):
    """Bodies → what the handler answers when its numbers are the notebook model's own, run in
    `dtype` on the rows the handler read: the expected answers, rounded as the handler rounds."""
    expected = []
    model = copy.deepcopy(notebook["model"]).to(dtype)
    for body, content_type in bodies:
        payload = handler.decode(Request(body, content_type))
        with torch.inference_mode():
            output = one_row_per_example(model(handler.preprocess(payload).to(dtype)))
        expected.append(handler.postprocess(payload, output.to(handler.model_dtype)))
    return expected


# A program computes in the dtype it was saved in; a class is moved to the handler's.
FORMATS = [("model.pt2", "exported_program", torch.float32),
           ("scripted.pt", "torchscript", torch.float32),
           ("state.pt", "state_dict", None)]


@pytest.mark.parametrize("file, kind, dtype", FORMATS)
def test_each_format_serves_the_notebooks_own_answers(brought, notebook, file, kind, dtype):
    printed, out = brought(file)
    checkpoint = load_checkpoint(out / "model.pt")  # weights_only, as the server loads it
    handler = handler_class(FAMILY)(checkpoint)
    good, bad = hook(FAMILY, "bodies")(checkpoint, 12)
    answers = [answer.body for answer in handler.handle([Request(*body) for body in good])]
    assert answers == notebook_answers(handler, notebook, good, dtype or handler.model_dtype)
    # Bad input is still each request's own 400.
    assert {answer.status for answer in handler.handle([Request(*body) for body in bad])} == {400}
    assert f"{kind}," in printed[0] and any("alike at batch 1 and 3" in line for line in printed)


@pytest.mark.parametrize("file, kind, dtype", FORMATS)
def test_the_checkpoint_and_metrics_say_where_the_model_came_from(brought, notebook, file, kind,
                                                                   dtype):
    _, out = brought(file)
    checkpoint = load_checkpoint(out / "model.pt")
    data = (notebook["folder"] / file).read_bytes()
    assert checkpoint["format"] == BROUGHT_FORMAT
    assert {key: checkpoint["brought"][key] for key in ("format", "file", "sha256", "bytes")} == {
        "format": kind, "file": file, "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data)}
    assert checkpoint["brought"]["brought_at"]
    assert checkpoint["labels"] == list(hook(FAMILY, "LABELS"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == checkpoint["metrics"] and metrics["brought"] == checkpoint["brought"]
    assert metrics["split"] == "test" and metrics["rows"] > 0
    if kind == "state_dict":
        assert checkpoint["brought"]["class"] == "Net"
        assert checkpoint["model_args"] == notebook["args"]
    else:  # the program's bytes and plain values only: nothing for the unpickler to run
        assert set(checkpoint["state_dict"]) == {"program"}
        assert checkpoint["model_args"]["sha256"] == checkpoint["brought"]["sha256"]


def test_a_program_exported_for_one_row_serves_batches_row_by_row(notebook, tmp_path):
    printed = bring(parse_args(bring_args(notebook, "static.pt2", tmp_path)))
    assert any("served row by row" in line and "dynamic_shapes" in line for line in printed)
    checkpoint = load_checkpoint(tmp_path / FAMILY / "model.pt")
    assert checkpoint["model_args"]["rows_per_call"] == 1
    handler = handler_class(FAMILY)(checkpoint)
    good, _ = hook(FAMILY, "bodies")(checkpoint, 8)  # lone records and lists of up to 20
    answers = [answer.body for answer in handler.handle([Request(*body) for body in good])]
    assert answers == notebook_answers(handler, notebook, good, torch.float32)


def test_a_brought_program_serves_eager_only(brought):
    _, out = brought("model.pt2")
    checkpoint = load_checkpoint(out / "model.pt")
    for model_format in ("compile", "int8", "aoti"):
        with pytest.raises(FormatError, match=f"format {model_format} is not offered for a model "
                                              "brought as a exported_program"):
            handler_class(FAMILY)(checkpoint, "cpu", model_format)


def test_a_program_altered_inside_its_checkpoint_is_refused(brought, tmp_path):
    _, out = brought("model.pt2")
    checkpoint = torch.load(out / "model.pt", weights_only=True)
    checkpoint["state_dict"]["program"][-1] ^= 1
    with pytest.raises(ProgramError, match="does not match its sha256"):
        build_model(checkpoint)


def test_a_class_file_changed_after_bringing_is_refused(brought, network_file_kept):
    _, out = brought("state.pt")
    source = network_file_kept.read_bytes()
    network_file_kept.write_bytes(source.replace(b"* 50.0", b"* 51.0"))
    try:
        with pytest.raises(CheckpointError, match="changed since the model was brought"):
            build_model(load_checkpoint(out / "model.pt"))
    finally:
        network_file_kept.write_bytes(source)


def test_a_classifier_is_scored_in_its_labels_order_so_a_wrong_order_shows():
    # The family's test targets are ids of its splits' classes; the model answers in --labels order.
    splits = SimpleNamespace(classes=["cat", "dog", "owl"])
    assert in_label_order(torch.tensor([0, 1, 2, 2]), splits, ["owl", "cat", "dog"]).tolist() == [
        1, 2, 0, 0]
    with pytest.raises(BringError, match=r"the labels \(cat, dog\) are not the family's classes"):
        in_label_order(torch.tensor([0]), splits, ["cat", "dog"])


# Refusals: files made unsafe or unfitting as an attacker or a slip would make them.

def rewritten(data: bytes, changes: dict) -> bytes:
    """A zip's bytes and {entry name without its top folder: new bytes, or None to drop} → the
    zip with those entries replaced, added or dropped."""
    source = zipfile.ZipFile(io.BytesIO(data))
    root = source.namelist()[0].split("/")[0]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            inner = name.split("/", 1)[1]
            if inner not in changes:
                target.writestr(name, source.read(name))
        for inner, content in changes.items():
            if content is not None:
                target.writestr(f"{root}/{inner}", content)
    return out.getvalue()


def edited_json(data: bytes, name: str, edit) -> dict:
    """A zip's bytes, a JSON entry's name and a function that edits its value → {name: new bytes}."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    value = json.loads(archive.read(f"{archive.namelist()[0].split('/')[0]}/{name}"))
    edit(value)
    return {name: json.dumps(value).encode()}


def pickled_weight(data, marker):
    config = edited_json(data, "data/weights/model_weights_config.json", lambda value: value[
        "config"][next(iter(value["config"]))].update(use_pickle=True))
    return {**config, "data/weights/weight_0": pickle.dumps(WritesMarker(marker))}


def sample_inputs_needing_pickle(data, marker):
    buffer = io.BytesIO()
    torch.save((WritesMarker(marker),), buffer)
    return {"data/sample_inputs/model.pt": buffer.getvalue()}


def shape_expression_running_python(data, marker):
    def edit(program):
        sizes = program["graph_module"]["graph"]["tensor_values"]["x"]["sizes"]
        sizes[0]["as_expr"]["expr_str"] = f"__import__('os').system('touch {marker}')"
    return edited_json(data, "models/model.json", edit)


def guards_code(data, marker):
    return edited_json(data, "models/model.json", lambda program: program.update(
        guards_code=[f"__import__('os').system('touch {marker}') == 0"]))


def aotinductor_code(data, marker):
    return {"data/aotinductor/model/model.wrapper.so": b"\x7fELF"}


UNSAFE_PROGRAMS = [(pickled_weight, "stored as a pickled object"),
                   (sample_inputs_needing_pickle,
                    r"sample inputs that only an unsafe load reads \(it pickles (posix|os).system\)"),
                   (shape_expression_running_python, "sympy would evaluate it as Python"),
                   (guards_code, "guards_code, Python that running the program would exec"),
                   (aotinductor_code, "AOTInductor compiled code")]


@pytest.mark.parametrize("unsafe, message", UNSAFE_PROGRAMS)
def test_an_unsafe_exported_program_is_refused_before_anything_runs(notebook, tmp_path, unsafe,
                                                                    message):
    marker = tmp_path / "code-ran"
    data = (notebook["folder"] / "model.pt2").read_bytes()
    (tmp_path / "evil.pt2").write_bytes(rewritten(data, unsafe(data, marker)))
    with pytest.raises(ProgramError, match=message):
        bring(parse_args([FAMILY, str(tmp_path / "evil.pt2"), "--out", str(tmp_path / FAMILY)]))
    assert not marker.exists() and not (tmp_path / FAMILY / "model.pt").exists()


@pytest.mark.parametrize("unsafe", [sample_inputs_needing_pickle, shape_expression_running_python])
def test_torch_export_load_itself_would_run_the_payload(notebook, tmp_path, unsafe):
    """Why the checks above come before torch.export.load: it runs these payloads."""
    marker = tmp_path / "code-ran"
    data = (notebook["folder"] / "model.pt2").read_bytes()
    try:
        torch.export.load(io.BytesIO(rewritten(data, unsafe(data, marker))))
    except Exception:
        pass  # the payload runs during loading, whatever fails after it
    assert marker.exists()


def scripted_writing_a_file(notebook, marker):
    class WritesFile(torch.nn.Module):
        def __init__(self, path: str):
            super().__init__()
            self.path = path

        def forward(self, x):
            torch.save(x, self.path)
            return x
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(WritesFile(str(marker))), buffer)
    return buffer.getvalue()


def scripted_with_a_foreign_global(notebook, marker):
    data = (notebook["folder"] / "scripted.pt").read_bytes()
    return rewritten(data, {"data.pkl": pickle.dumps(WritesMarker(marker))})


@pytest.mark.parametrize("unsafe, message", [
    (scripted_with_a_foreign_global, r"data.pkl names the Python global (posix|os)\.system"),
    (scripted_writing_a_file, "calls torch.save, which reaches outside the model")])
def test_an_unsafe_torchscript_file_is_refused_before_it_loads(notebook, tmp_path, unsafe,
                                                               message):
    marker = tmp_path / "code-ran"
    (tmp_path / "evil.pt").write_bytes(unsafe(notebook, marker))
    with pytest.raises(ProgramError, match=message):
        bring(parse_args([FAMILY, str(tmp_path / "evil.pt"), "--out", str(tmp_path / FAMILY)]))
    assert not marker.exists() and not (tmp_path / FAMILY / "model.pt").exists()


def state_dict_missing_a_key(notebook, folder):
    state = notebook["model"].state_dict()
    state.pop("layers.2.bias")
    torch.save(state, folder / "state_missing.pt")
    return "state_missing.pt", []


def state_dict_for_other_arguments(notebook, folder):
    return "state.pt", ["--args", json.dumps({**notebook["args"], "hidden": 4})]


def whole_pickled_model(notebook, folder):
    torch.save(notebook["model"], folder / "state_whole.pt")
    return "state_whole.pt", []


@pytest.mark.parametrize("unfitting, message", [
    (state_dict_missing_a_key, "does not fit Net: missing layers.2.bias; unexpected nothing"),
    (state_dict_for_other_arguments, r"layers.0.weight is \[8, 10\] in the file and \[4, 10\]"),
    (whole_pickled_model, r"refuses it \(it pickles notebook_net.Net\)")])
def test_a_state_dict_that_does_not_fit_its_class_is_refused(notebook, network_file_kept, tmp_path,
                                                             unfitting, message):
    before = network_file_kept.read_bytes() if network_file_kept.exists() else None
    file, options = unfitting(notebook, notebook["folder"])
    argv = [*bring_args(notebook, file, tmp_path), *options]
    with pytest.raises(BringError, match=message):
        bring(parse_args(argv))
    assert not (tmp_path / FAMILY / "model.pt").exists()
    # The class file copied for the check is taken back.
    assert (network_file_kept.read_bytes() if network_file_kept.exists() else None) == before


def test_a_file_of_none_of_the_formats_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a model")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("folder/readme.txt", "hello")
    (tmp_path / "other.zip").write_bytes(zipped.getvalue())
    for file, message in [("notes.txt", "not a zip archive"),
                          ("other.zip", "a zip, but not one written by torch.export.save"),
                          ("missing.pt", "cannot read model file")]:
        with pytest.raises(SystemExit) as stop:
            main([FAMILY, str(tmp_path / file), "--out", str(tmp_path / FAMILY)])
        assert str(stop.value).startswith("bring_model: ") and message in str(stop.value)
        assert "\n" not in str(stop.value)
    with pytest.raises(SystemExit, match="unknown family 'no_such_family'"):
        main(["no_such_family", str(tmp_path / "notes.txt")])
    assert not (tmp_path / FAMILY).exists()


@pytest.mark.serving
@pytest.mark.parametrize("file", [file for file, _, _ in FORMATS])
def test_a_brought_model_of_each_format_is_archived_and_served_as_in_process(brought, tmp_path,
                                                                              file):
    _, out = brought(file)
    store = build_store(tmp_path / "store", [FAMILY], out.parent)
    checkpoint = load_checkpoint(out / "model.pt")
    handler = handler_class(FAMILY)(checkpoint)
    good, bad = hook(FAMILY, "bodies")(checkpoint, 24)
    (tmp_path / "torchserve").mkdir()
    with running_server(tmp_path / "torchserve", store) as server:
        with ThreadPoolExecutor(max_workers=8) as pool:  # concurrent, so requests share batches
            served = list(pool.map(lambda body: post(server, FAMILY, *body), good + bad))
    expected = handler.handle([Request(*body) for body in good + bad])
    assert [response.status_code for response in served] == [a.status for a in expected]
    assert [response.json() for response in served] == [a.body for a in expected]
    assert {answer.status for answer in expected[len(good):]} == {400}
