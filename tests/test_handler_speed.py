"""bench.handler_speed runs every family's handler beside its pre-issue-15 self and writes a
report that holds every figure; the figures are not judged here (they belong to the report)."""

import importlib
import json

from bench import handler_speed
from bench.compute import STEPS
from bench.handlers_before.pipeline import PipelineBefore
from handlers import handler_class
from tests.under_test import MODELS


def test_the_report_holds_both_sides_of_every_round_and_the_step_shares(tmp_path, capsys):
    assert handler_speed.main(["--models", ",".join(MODELS), "--rounds", "2", "--seconds", "0.01",
                               "--out", str(tmp_path)]) == 0
    [report] = tmp_path.glob("handler_speed-*.json")
    result = json.loads(report.read_text())
    assert "--rounds 2" in result["command"] and set(result["families"]) == set(MODELS)
    for figures in result["families"].values():
        assert figures["same_answers"] and figures["batch_size"] >= 1
        assert all(len(figures["per_second"][side]) == 2 and min(figures["per_second"][side]) > 0
                   for side in ("before", "after"))
        assert len(figures["ratios"]) == 2 and figures["ratio"] > 0
        for side in ("before", "after"):
            shares = figures["shares"][side]
            assert set(shares) == {*STEPS, "other"} and abs(sum(shares.values()) - 1) < 0.02
    printed = capsys.readouterr().out
    assert all(f"| {model} |" in printed for model in MODELS) and str(report) in printed


def test_a_family_with_no_old_steps_of_its_own_is_timed_on_the_old_pipeline(monkeypatch):
    import_module = importlib.import_module

    def no_old_steps(name):
        if name.startswith("bench.handlers_before."):
            raise ModuleNotFoundError(name)
        return import_module(name)
    monkeypatch.setattr(importlib, "import_module", no_old_steps)
    before = handler_speed.handler_before(MODELS[0])
    assert isinstance(before, PipelineBefore) and isinstance(before, handler_class(MODELS[0]))
    assert type(before).handle is PipelineBefore.handle
