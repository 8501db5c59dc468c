"""The figures the issue's ratios divide, taken in turns: rounds of compute limit, served, server
limit and served before, one after the other, on servers that run side by side.

The sweep measures each point once, minutes apart from the point it is later divided by, while
this machine's speed drifts by half within minutes and by two between days. Here, for each model
at c=64 with batching on, each round measures all four within seconds of each other: the
in-process handle() of the handlers now and before issue 15, the model served, its no-op twin
(both on one TorchServe), and the model served by a second TorchServe whose workers run the
handlers before issue 15. Both servers stay up for the whole run, idle while the other is
measured; the order within a round turns from one round to the next, and the targets take each
figure's median over the rounds.
"""

import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path

import requests
import torch

from bench import compute, frontend_threads, java_threads, jit, worker_start
from bench.points import CORES
from bench.stores import build_store, config_dir, noop_name
from bench.sweep import Served, targets
from client.prometheus import by_sample
from handlers.metrics import STEP_METRICS
from harness.settings import model_format, model_settings as settings
from harness.torchserve import HTTP_TIMEOUT, running_server

CONCURRENCY = 64
WARM_UP_S = 2.0  # per model and server after each scale: the new workers settle
SERVED_KINDS = ("served", "server limit", "served before")
# "compute served": requests per second of handler time inside the served workers, from their
# own step metrics: the compute limit as the handler runs beside the frontend and the load
# generator, not with the machine to itself.
FIGURES = ("compute limit", "compute limit before", *SERVED_KINDS, "compute served")
REQUESTS_METRIC = "ts_inference_requests_total"  # TorchServe's count of answered requests
# The frontend thread that answers a batch's clients and hands its worker the next batch, while
# the worker waits: its CPU per batch is the serial part of the per-batch trip.
FEEDER = frontend_threads.ROLES[1][0]


def measure(models, workers_list, rounds, seconds, warm_up_s, compute_seconds, chosen_format=None,
            before=True, log=print, warm_ups=None, jit_warm_up=None) -> tuple:
    """Models, worker counts, rounds, seconds per served figure and per in-process one → (one
    dict per model, workers and round with every figure of FIGURES measured, one worker-start
    dict per model of the before server). Each server's JIT warm-up (bench.jit.warm_up, with
    `jit_warm_up` as its keyword arguments) is appended to `warm_ups` when given."""
    rounds_measured, starts = [], []
    with tempfile.TemporaryDirectory(prefix="bench-paired-") as folder, ExitStack() as stack:
        folder = Path(folder)
        configs = config_dir(folder / "model-config", models, True)
        servers = {}
        for side, is_before in (("after", False), ("before", True)) if before else (("after", False),):
            store = build_store(folder / f"store-{side}", models, configs, chosen_format, is_before)
            (folder / side).mkdir()
            log(f"paired rounds: starting the {side} TorchServe …")
            servers[side] = Served(stack.enter_context(
                running_server(folder / side, store, ready_timeout_s=300)))
        plans = {}
        for model in models:
            found = {kind: calls for kind, body, calls in targets(model, chosen_format)
                     if body == "sample"}
            if before:
                [(_, _, calls)] = targets(model, chosen_format, before=True)
                found["served before"] = calls
            plans[model] = found
        if before:
            first = {model: worker_start.first_answers(servers["before"].server,
                                                       plans[model]["served before"][0])
                     for model in models}
        where = {"served": servers["after"], "server limit": servers["after"],
                 "served before": servers.get("before")}
        for side, served in servers.items():
            warmed = jit.warm_up(served, [plans[model][kind] for model in models
                                          for kind in SERVED_KINDS
                                          if where[kind] is served and kind in plans[model]],
                                 log=log, **(jit_warm_up or {}))
            if warm_ups is not None:
                warm_ups.append({"server": f"paired rounds, handlers {side}", **warmed})
        handlers = {(model, old): compute.build_handler(model, model_format(model, chosen_format),
                                                        before=old)
                    for model in models for old in ((False, True) if before else (False,))}
        for workers in workers_list:
            for side, served in servers.items():
                for model in models:
                    for name in (model,) if side == "before" else (model, noop_name(model)):
                        served.server.scale(name, workers)
            for model in models:
                size = int(settings(model, configs).get("batchSize", 1))
                kinds = [kind for kind in SERVED_KINDS if kind in plans[model]]
                for kind in kinds:
                    where[kind].load(plans[model][kind], WARM_UP_S, CONCURRENCY)
                torch.set_num_threads(compute.worker_threads(model))  # as its workers run
                names = java_threads.java_names(servers["after"].server.frontend().pid)
                for index in range(rounds):
                    figures = {"model": model, "workers": workers, "round": index,
                               "batch_size": size, "cores_busy": {}, "feeder_us": {},
                               "wrong": 0, "problems": []}
                    for old in (False, True) if before else (False,):
                        rate = compute.handle_rate(handlers[(model, old)], size, compute_seconds)
                        figures["compute limit before" if old else "compute limit"] = \
                            rate * min(workers, CORES)
                    turn = index % len(kinds)
                    for kind in kinds[turn:] + kinds[:turn]:
                        if warm_up_s > 0:  # before the snapshots, which the load alone spans
                            where[kind].load(plans[model][kind], warm_up_s, CONCURRENCY)
                        if kind == "served":
                            handled = handler_time(where[kind].server, model)
                        pid = where[kind].server.frontend().pid
                        threads = java_threads.thread_seconds(pid)
                        point = where[kind].measure(plans[model][kind], seconds, 0, CONCURRENCY)
                        if kind == "served":
                            figures["compute served"] = handler_rate(
                                handled, handler_time(where[kind].server, model), workers)
                        if kind != "served before":
                            figures["feeder_us"][kind] = feeder_us(
                                threads, java_threads.thread_seconds(pid), names, point)
                        figures[kind] = point["throughput"]
                        figures["cores_busy"][kind] = point["cores_busy"]
                        figures["wrong"] += point["wrong"]
                        figures["problems"] += point["problems"]
                    rounds_measured.append(figures)
                    log(describe(figures))
        if before:
            logged = worker_start.logged(worker_start.worker_log(servers["before"].server))
            starts = [{"model": model, "handlers": "before", "batching": True,
                       "first_answers_ms": first[model], **logged.get(model, {})}
                      for model in models]
    return rounds_measured, starts


def handler_time(server, model) -> tuple:
    """A running TorchServe and a model → (requests it has answered, seconds its workers' handlers
    have spent in their steps), from its Prometheus metrics."""
    samples = by_sample(requests.get(f"{server.metrics_url}/metrics", timeout=HTTP_TIMEOUT).text)
    answered = sum(value for labels, value in samples.get(REQUESTS_METRIC, [])
                   if labels.get("model_name") == model)
    spent = sum(value for name in STEP_METRICS.values()
                for labels, value in samples.get(f"{name}_sum", [])
                if labels.get("ModelName") == model)
    return answered, spent


def handler_rate(start, end, workers) -> float:
    """handler_time() before and after a figure, and the workers → requests per second of handler
    time, times the workers (as the compute limit counts them); 0 when no handler time passed."""
    answered, spent = end[0] - start[0], end[1] - start[1]
    return answered / spent * min(workers, CORES) if spent > 0 else 0.0


def feeder_us(before, after, names, point):
    """Thread CPU before and after a served figure, the frontend's Java thread names and the
    point → µs of the frontend's worker threads' CPU per answer; None without /proc or jstack."""
    if before is None or after is None or not point["throughput"]:
        return None
    found = frontend_threads.per_request(before, after, names,
                                         point["throughput"] * point["seconds"])
    return found.get(FEEDER)


def feeder_medians(result, model, workers) -> dict:
    """A run's result, model and workers → {"served", "server limit"}: the median over its rounds
    of the frontend's worker-thread CPU per answer (µs), for each kind every round measured."""
    found = rounds_of(result, model, workers)
    return {kind: statistics.median(r["feeder_us"][kind] for r in found)
            for kind in ("served", "server limit")
            if found and all((r.get("feeder_us") or {}).get(kind) for r in found)}


def describe(figures) -> str:
    """A round → one progress line."""
    return (f"  paired {figures['model']:13} workers {figures['workers']} round {figures['round']}: "
            + ", ".join(f"{kind} {figures[kind]:.0f}/s" for kind in FIGURES if kind in figures)
            + (f"  {figures['wrong']} WRONG: {figures['problems'][:1]}" if figures["wrong"] else ""))


def rounds_of(result, model, workers) -> list:
    """A run's result, model and workers → its paired rounds, in the order measured."""
    return [r for r in result.get("paired", []) if r["model"] == model and r["workers"] == workers]


def medians(result, model, workers) -> dict:
    """A run's result, model and workers → {figure: its median over the rounds} for every figure
    all its rounds measured; {} when there were no rounds."""
    found = rounds_of(result, model, workers)
    return {kind: statistics.median(r[kind] for r in found)
            for kind in FIGURES if found and all(kind in r for r in found)}


def median_round(result, model, workers, kind) -> dict:
    """The round whose `kind` figure is the median (the lower of two middle ones) as a point:
    {"throughput": that figure, "cores_busy": the cores busy while it was measured}."""
    found = sorted(rounds_of(result, model, workers), key=lambda r: r[kind])
    middle = found[(len(found) - 1) // 2]
    return {"throughput": middle[kind], "cores_busy": middle["cores_busy"][kind]}
