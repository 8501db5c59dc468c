"""The benchmark harness: `python -m bench --quick` against real servers writes a valid JSON, report and plots.

Speeds are never asserted (they belong to the figures, not to the tests);
what is checked is that every kind of point was measured, every answer was
checked and right, and the report and plots were written from them.
"""

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import (frontend_threads, handlers_before, java_threads, jit, noop_handler, paired,
                   profile, server_settings)
from bench.report import before_after_section, targets_section
from bench.targets import before_and_after, evaluate
from handlers import handler_class
from harness.examples import subject
from harness.settings import ROOT
from tests.under_test import MODELS

MODEL = subject("benchmark")
CONCURRENCIES = [1, 8, 32, 64]


@pytest.fixture(scope="module")
def quick_run(checkpoint_dir, tmp_path_factory):
    """A quick benchmark of the benchmark's subject on real TorchServe servers and the LitServe peer →
    (result, output folder)."""
    pytest.importorskip("litserve", reason="install requirements-bench.txt")
    if MODEL not in MODELS:
        pytest.skip(f"{MODEL} is not among TEST_MODELS")
    out = tmp_path_factory.mktemp("bench")
    run = subprocess.run([sys.executable, "-m", "bench", "--quick", "--models", MODEL,
                          "--checkpoints", str(checkpoint_dir), "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    [result_path] = out.glob("*.json")
    return json.loads(result_path.read_text()), out


@pytest.mark.timeout(700)
def test_every_kind_of_point_is_measured_and_every_answer_right(quick_run):
    result, _ = quick_run
    points = result["points"]
    for kind, stack, body, batchings in [("served", "torchserve", "sample", (False, True)),
                                         ("server limit", "torchserve", "sample", (False, True)),
                                         ("served", "torchserve", "json", (False, True)),
                                         ("peer", "litserve", "json", (True,))]:
        for batching in batchings:
            measured = sorted(p["concurrency"] for p in points if p["kind"] == kind
                              and p["stack"] == stack and p["body"] == body
                              and p["batching"] == batching and p["model"] == MODEL)
            assert measured == CONCURRENCIES, (kind, stack, body, batching, measured)
    # The paired rounds the targets divide: every figure, the handlers before issue 15 included.
    rounds = [r for r in result["paired"] if r["model"] == MODEL]
    assert [(r["workers"], r["round"]) for r in rounds] == [(1, 0)] and result["settings"]["rounds"] == 1
    assert all(rounds[0][figure] > 0 for figure in paired.FIGURES), rounds
    assert rounds[0]["wrong"] == 0, rounds[0]["problems"]
    assert set(rounds[0]["cores_busy"]) == set(paired.SERVED_KINDS)
    if shutil.which("jstack") and (Path("/proc") / str(os.getpid()) / "task").is_dir():
        # The frontend's worker thread is named and read, served and for the twin.
        assert all(rounds[0]["feeder_us"][kind] > 0 for kind in ("served", "server limit"))
    assert {p["batch_size"] for p in points if p["stack"] == "torchserve" and not p["batching"]} == {1}
    assert all(p["requests"] > 0 and p["wrong"] == 0 for p in points), [
        (p["kind"], p["concurrency"], p["problems"]) for p in points if p["wrong"] or not p["requests"]]
    assert all(p["p50"] <= p["p95"] <= p["p99"] <= p["max"] for p in points)
    assert all({"frontend", "workers", "load generator"} <= set(p["cores_busy"])
               for p in points if p["stack"] == "torchserve")


@pytest.mark.timeout(700)
def test_compute_limit_and_preprocessing_share_are_measured(quick_run):
    result, _ = quick_run
    compute = result["compute"][MODEL]
    assert {"1", "8"} <= set(compute["handle"]) and set(compute["handle"]) == set(compute["forward"])
    assert all(value > 0 for value in [*compute["handle"].values(), *compute["forward"].values()])
    shares = compute["shares"]
    assert shares["batch_size"] == result["model_config"][MODEL]["batchSize"]
    assert 0 < shares["decode"] + shares["preprocess"] < 1
    assert sum(shares[step] for step in ("decode", "preprocess", "inference", "postprocess",
                                         "other")) == pytest.approx(1, abs=0.02)


@pytest.mark.timeout(700)
def test_every_target_is_judged_as_a_ratio(quick_run):
    result, _ = quick_run
    assert len(result["targets"]) == 6  # one worker count, one model: one target of each kind
    for target in result["targets"]:
        assert target["ratio"] is not None and target["ratio"] > 0, target
        assert target["met"] in (True, False)
    [profiled] = result["profiles"]
    assert profiled["samples"] > 0 or profiled["error"]


@pytest.mark.timeout(700)
def test_every_worker_start_is_reported_with_the_handler_it_built(quick_run):
    result, out = quick_run
    starts = {(s["handlers"], s["batching"]): s for s in result["worker_starts"] if s["model"] == MODEL}
    assert set(starts) == {("after", False), ("after", True), ("before", True)}
    for start in starts.values():
        assert len(start["warm_up_ms"]) >= 1 and all(ms >= 0 for ms in start["warm_up_ms"])
        assert len(start["first_answers_ms"]) == 3 and min(start["first_answers_ms"]) > 0
    # The "before" server's workers really ran the frozen handlers, the others the current ones.
    assert starts[("before", True)]["handler"] == handlers_before.handler_class(MODEL).__qualname__
    assert starts[("after", True)]["handler"] == handler_class(MODEL).__qualname__
    report = (out / "performance.md").read_text()
    assert "## Worker start" in report and "## Before and after issue 15, served" in report


@pytest.mark.timeout(700)
def test_each_fresh_server_is_warmed_and_its_jit_compilers_read(quick_run):
    """Four servers start in a run (batching off and on, then the paired rounds' after and
    before): each gets a JIT warm-up whose compiler CPU was read from the real JVM."""
    result, out = quick_run
    warm_ups = result["jit_warm_ups"]
    assert [w["server"] for w in warm_ups] == [
        "sweep, batching off", "sweep, batching on",
        "paired rounds, handlers after", "paired rounds, handlers before"]
    assert all(w["seconds"] > 0 and w["compiler_share"] is not None and w["compiler_share"] >= 0
               for w in warm_ups), warm_ups
    report = next(out.glob("*.md")).read_text()
    assert "JIT compilers used under" in report and "paired rounds, handlers before" in report


@pytest.mark.timeout(700)
def test_report_names_its_command_and_links_plots_that_exist(quick_run):
    result, out = quick_run
    report = (out / "performance.md").read_text()
    assert result["command"] in report and "--quick" in report
    assert "## Targets" in report and "## Compute limit" in report and "## Served over HTTP" in report
    assert "## Peer" in report and "preprocessing share" in report
    for target in result["targets"]:
        assert target["name"] in report
    for name in ("throughput.png", "latency.png"):
        assert f"]({name})" in report
        png = (out / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        assert width > 300 and height > 200


def test_the_noop_handler_answers_a_constant_for_each_request():
    responses = {}
    context = SimpleNamespace(set_response_content_type=lambda i, t: responses.update({i: t}))
    assert noop_handler.handle(None, context) is None  # the worker's load call
    assert noop_handler.handle([{"body": b"x"}, {"data": b"y"}], context) == [noop_handler.ANSWER] * 2
    assert responses == {0: "application/json", 1: "application/json"}
    assert json.loads(noop_handler.ANSWER) == {"ok": True}


def test_profile_buckets_name_the_handler_step_or_the_wait():
    base = "run_server (ts/model_service_worker.py:1)"
    step = (base + ";handle (handlers/torchserve_handler.py:2)"
            f";{handler_class(MODEL).__name__}.preprocess (handlers/{MODEL}.py:3)")
    assert profile.bucket(step.split(";")) == "preprocess"
    batched = base + ";handle (handlers/torchserve_handler.py:2);ModelHandler.answer (handlers/base.py:3)"
    assert profile.bucket((batched + ";ModelHandler.preprocess_batch (handlers/base.py:4)").split(";")) \
        == "preprocess"
    assert profile.bucket((batched + f";{handler_class(MODEL).__name__}.postprocess_batch "
                                     f"(handlers/{MODEL}.py:5)").split(";")) == "postprocess"
    waiting = base + ";retrieve_msg (ts/protocol/otf_message_handler.py:4);recv (socket.py:5)"
    assert profile.bucket(waiting.split(";")) == "waiting for the frontend"
    assert profile.bucket([base, "create_predict_response (ts/protocol/otf_message_handler.py:6)"]) \
        == "worker protocol and other"


def test_targets_quote_ratios_and_say_when_missed_or_not_measured():
    def point(kind, throughput, batching=True, concurrency=64, body="sample", stack="torchserve"):
        return {"kind": kind, "stack": stack, "model": MODEL, "body": body, "batching": batching,
                "workers": 1, "concurrency": concurrency, "throughput": throughput,
                "p50": 10.0, "p99": 40.0, "cores_busy": {}}
    result = {"cores": 2, "settings": {"workers": [1], "models": [MODEL]},
              "model_config": {MODEL: {"batchSize": 8}},
              "compute": {MODEL: {"handle": {"1": 500.0, "8": 1000.0}}},
              "points": [point("served", 700), point("server limit", 2000),
                         point("served", 600, concurrency=32), point("served", 200, False, 32),
                         point("served", 100, concurrency=8)]}
    share, gain, tail, peer, served_gain, composite = evaluate(result)
    assert share["ratio"] == pytest.approx(0.7) and share["met"] is False  # 700 of min(1000, 2000)
    assert gain["ratio"] == pytest.approx(3.0) and gain["met"] is False
    assert tail["ratio"] == pytest.approx(4.0) and tail["met"] is False
    assert peer["ratio"] is None and peer["met"] is None and "not measured" in peer["note"]
    assert served_gain["met"] is None and "not measured" in served_gain["note"]  # no before here
    # 1 / (1/2000 + 1/1000) = 666.7; 700 served is 1.05 of it
    assert composite["evidence"]["composite bound"] == pytest.approx(2000 / 3)
    assert composite["ratio"] == pytest.approx(700 / (2000 / 3)) and composite["met"] is True


def test_before_and_after_and_the_composite_bound_come_from_the_runs_own_figures():
    def point(kind, throughput, workers):
        return {"kind": kind, "stack": "torchserve", "model": MODEL, "body": "sample",
                "batching": True, "workers": workers, "concurrency": 64, "throughput": throughput,
                "cores_busy": {"frontend": 0.5, "workers": 1.0, "load generator": 0.4,
                               "other processes": 0.0}}
    result = {"cores": 2, "settings": {"workers": [1, 2], "models": [MODEL], "quick": False,
                                       "concurrencies": [64], "seconds": 1, "warm_up_s": 0},
              "model_config": {MODEL: {"batchSize": 8}},
              "compute": {MODEL: {"handle": {"8": 1000.0}, "handle_before": {"8": 400.0}}},
              "points": [point("served", 500, 1), point("served before", 250, 1),
                         point("server limit", 3000, 1), point("served", 900, 2),
                         point("served before", 500, 2), point("server limit", 3000, 2)],
              "profiles": []}
    figures = before_and_after(result, MODEL, 2)
    assert figures["compute limit after"] == 2000 and figures["compute limit before"] == 800
    assert figures["composite bound after"] == pytest.approx(1200)  # 1 / (1/3000 + 1/2000)
    assert figures["composite bound before"] == pytest.approx(1 / (1 / 3000 + 1 / 800))
    judged = {item["name"]: item for item in evaluate(result)}
    [gain] = [item for name, item in judged.items() if "issue 15" in name]
    assert gain["ratio"] == pytest.approx(2.0) and gain["met"] is True  # 1 worker: 500 / 250
    composite = [item for name, item in judged.items() if "composite bound" in name]
    assert [item["ratio"] for item in composite] == pytest.approx([500 / 750, 900 / 1200])
    assert [item["met"] for item in composite] == [False, False]
    # The report says what bounds each miss and holds before and after for every worker count.
    lines = targets_section({**result, "targets": evaluate(result)})
    assert any("composite bound of 750/s" in line and "cores busy" in line for line in lines)
    table = before_after_section(result)
    assert f"| {MODEL} | 1 | 1 | 250 | 500 | 2.00 |" in "\n".join(table)
    assert f"| {MODEL} | 2 | 1 | 500 | 900 | 1.80 |" in "\n".join(table)


def test_paired_rounds_give_each_figure_its_median_and_the_median_rounds_cores_busy():
    def round_of(index, served, limit, before, compute, busy):
        return {"model": MODEL, "workers": 1, "round": index, "batch_size": 8,
                "served": served, "server limit": limit, "served before": before,
                "compute limit": compute, "compute limit before": compute / 3,
                "compute served": compute / 2,
                "feeder_us": {"served": 30.0 + index, "server limit": 20.0 + index},
                "cores_busy": {kind: {"frontend": busy, "workers": 1.0, "load generator": 0.3,
                                      "other processes": 0.0} for kind in paired.SERVED_KINDS},
                "wrong": 0, "problems": []}
    result = {"cores": 2, "settings": {"workers": [1], "models": [MODEL]},
              "model_config": {MODEL: {"batchSize": 8}},
              # The sweep's single points disagree with the rounds: the rounds must win.
              "compute": {MODEL: {"handle": {"8": 10.0}, "handle_before": {"8": 1.0}}},
              "points": [], "profiles": [],
              "paired": [round_of(0, 900, 3000, 300, 2100, 0.1),
                         round_of(1, 500, 1000, 100, 600, 0.2),   # a slow moment: all fall
                         round_of(2, 800, 2000, 250, 1800, 0.3)]}
    figures = before_and_after(result, MODEL, 1)
    assert (figures["served after"], figures["server limit"], figures["served before"]) == \
        (800, 2000, 250)
    assert figures["compute limit after"] == 1800 and figures["compute limit before"] == 600
    assert figures["rounds"] == 3
    assert figures["point"]["cores_busy"]["frontend"] == 0.3  # the round that served 800
    assert figures["composite bound after"] == pytest.approx(1 / (1 / 2000 + 1 / 1800))
    judged = {item["name"]: item for item in evaluate(result)}
    [composite] = [item for name, item in judged.items() if "composite bound" in name]
    assert composite["ratio"] == pytest.approx(800 / (1 / (1 / 2000 + 1 / 1800)))
    [gain] = [item for name, item in judged.items() if "issue 15" in name]
    assert gain["ratio"] == pytest.approx(800 / 250)
    # The handler's rate inside the served workers gives its own bound, which the miss names.
    assert figures["compute served"] == 900
    assert figures["composite bound served"] == pytest.approx(1 / (1 / 2000 + 1 / 900))
    result["targets"] = evaluate(result)
    [miss] = [line for line in targets_section(result) if "Inside the served workers" in line]
    assert "ran at 900/s (50% of the compute limit" in miss
    # The frontend's worker thread per batch of 8: medians 31 and 21 µs per answer.
    assert figures["feeder us"] == {"served": 31.0, "server limit": 21.0}
    assert "spent 248 µs of CPU a batch of 8 (168 µs for the no-op twin" in miss


def test_compiler_seconds_counts_only_a_jvms_compiler_threads():
    """A Python process has no JIT compiler threads (0 s); a process that is gone gives None,
    as a machine without /proc's thread names does, so warm_up falls back to one pass."""
    if not (Path("/proc") / str(os.getpid()) / "task").is_dir():
        pytest.skip("no /proc thread names here")
    assert jit.compiler_seconds(os.getpid()) == 0.0
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert jit.compiler_seconds(gone.pid) is None


def test_server_settings_replace_append_and_empty_config_properties():
    """KEY=VALUE replaces, KEY+=VALUE appends to the repository's value (vmargs with its log4j
    path made absolute, as the servers get it), KEY= empties; anything else is refused."""
    properties = {"vmargs": "-Dlog4j.configurationFile=log4j2.xml", "job_queue_size": "256"}
    found = server_settings.overrides_of(["vmargs+=-XX:+UseParallelGC", "job_queue_size=512",
                                          "netty_client_threads=1"], properties)
    assert found["vmargs"] == \
        f"-Dlog4j.configurationFile={ROOT / 'log4j2.xml'} -XX:+UseParallelGC"
    assert found["job_queue_size"] == "512" and found["netty_client_threads"] == "1"
    twice = server_settings.overrides_of(["vmargs+=-Xmx1g", "vmargs+=-XX:+UseSerialGC"],
                                         properties)
    assert twice["vmargs"].endswith(" -Xmx1g -XX:+UseSerialGC")
    assert server_settings.overrides_of(["vmargs="], properties) == {"vmargs": ""}
    for wrong in ("vmargs", "=1", "+=1"):
        with pytest.raises(ValueError):
            server_settings.overrides_of([wrong], properties)


def test_server_settings_medians_are_per_setting_and_share_the_repository_figure():
    def figure(index, setting, kind, throughput, frontend):
        return {"round": index, "setting": setting, "model": MODEL, "kind": kind,
                "throughput": throughput, "frontend_us_per_request": frontend, "wrong": 0}
    figures = [figure(0, "repository", "served", 1000, 100), figure(0, "other", "served", 1500, 80),
               figure(1, "other", "served", 900, 90), figure(1, "repository", "served", 600, 120),
               figure(2, "repository", "served", 800, 110), figure(2, "other", "served", 1200, 70),
               figure(0, "other", "server limit", 4000, 50)]
    found = server_settings.medians(figures)
    assert found[("repository", MODEL, "served")]["throughput"] == 800
    assert found[("other", MODEL, "served")] == {"throughput": 1200,
                                                 "frontend_us_per_request": 80,
                                                 "of_repository": 1.5}
    assert found[("repository", MODEL, "served")]["of_repository"] == 1.0
    # No repository figure for the twin: no share to quote.
    assert found[("other", MODEL, "server limit")]["of_repository"] is None


JSTACK_EXCERPT = '''2026-12-04 05:20:58
Full thread dump OpenJDK 64-Bit Server VM (17.0.13+11-Debian-2deb12u1 mixed mode, sharing):

"W-9000-my_model_1.0" #41 prio=5 os_prio=0 cpu=812.41ms elapsed=30.11s tid=0x00007f3c nid=0x1a2b waiting on condition  [0x00007f3b]
   java.lang.Thread.State: TIMED_WAITING (parking)

"W-9000-my_model_1.0-stdout" #43 prio=5 os_prio=0 cpu=301.90ms elapsed=30.05s tid=0x00007f3d nid=0x1a2d runnable  [0x00007f3a]
"epollEventLoopGroup-3-1" #22 prio=10 os_prio=0 cpu=1200.00ms elapsed=31.00s tid=0x00007f3e nid=0x19ff runnable  [0x00007f39]
"C2 CompilerThread0" #7 daemon prio=9 os_prio=0 cpu=9000.10ms elapsed=32.00s tid=0x00007f3f nid=0x1990 waiting on condition  [0x0000000000000000]
'''


def test_frontend_threads_are_named_by_jstack_and_their_cpu_shared_per_answer():
    names = java_threads.parse_jstack(JSTACK_EXCERPT)
    assert names == {0x1a2b: "W-9000-my_model_1.0", 0x1a2d: "W-9000-my_model_1.0-stdout",
                     0x19ff: "epollEventLoopGroup-3-1", 0x1990: "C2 CompilerThread0"}
    feeder, reader = frontend_threads.role(names[0x1a2b]), frontend_threads.role(names[0x1a2d])
    assert feeder.startswith("worker thread") and reader.startswith("worker output reader")
    assert frontend_threads.role("epollEventLoopGroup-3-1").startswith("Netty event loops")
    assert frontend_threads.role("C2 CompilerThre") == "JIT compilers"
    # /proc's 15 characters cannot tell the feeder from the reader: they are counted together.
    assert frontend_threads.role("W-9000-my_model") == frontend_threads.UNNAMED_WORKER
    before = {0x1a2b: ("W-9000-my_model", 1.0), 0x1a2d: ("W-9000-my_model", 0.5),
              0x19ff: ("epollEventLoopG", 2.0)}
    after = {0x1a2b: ("W-9000-my_model", 1.2), 0x1a2d: ("W-9000-my_model", 0.6),
             0x19ff: ("epollEventLoopG", 2.5), 0x2000: ("epollEventLoopG", 0.1)}  # a new thread
    found = frontend_threads.per_request(before, after, names, answered=1000)
    assert found[feeder] == pytest.approx(200) and found[reader] == pytest.approx(100)
    assert found[frontend_threads.role("epollEventLoopGroup-3-1")] == pytest.approx(600)
    assert list(found)[0].startswith("Netty")  # the largest first
    unnamed = frontend_threads.per_request(before, after, {}, answered=1000)
    assert unnamed[frontend_threads.UNNAMED_WORKER] == pytest.approx(300)
    # The threads of this very process are read from /proc, and a gone process gives None.
    if (Path("/proc") / str(os.getpid()) / "task").is_dir():
        assert os.getpid() in java_threads.thread_seconds(os.getpid())
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        assert java_threads.thread_seconds(gone.pid) is None
