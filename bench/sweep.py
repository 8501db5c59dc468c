"""The served and server-limit figures: each model and its no-op twin on one real TorchServe per batch setting.

For batching on (model-config as tuned) and off (batchSize 1), one private
TorchServe serves every model and its no-op twin with the repository's
config.properties (token auth on, free loopback ports). Each is measured with
one and then two workers, at every concurrency, with the model's sample as
the request and its in-process answer as the only right one. With `before`,
the server runs each model's handler as it was before issue 15
(bench/handlers_before), with no twins, and its points are "served before".
"""

import tempfile
from pathlib import Path

from bench import jit, profile, worker_start
from bench.compute import build_handler
from bench.http_load import run_load
from bench.points import measure_point
from bench.stores import build_store, config_dir, noop_name
from harness.examples import expect, hook, sample_body, subject
from harness.load import Call, FreshKey
from harness.settings import model_format, model_settings as settings
from harness.torchserve import bearer, running_server

NOOP_ANSWER = {"ok": True}
BENCHMARKED = subject("benchmark", optional=True)  # the family the targets are judged on, and the peer serves


def json_image_body() -> tuple:
    """The benchmark family's sample as JSON: the body both TorchServe and LitServe take."""
    return hook(BENCHMARKED, "json_body")(sample_body(BENCHMARKED))


def expected_calls(model, bodies, chosen_format=None) -> list:
    """Model, (body, content type) pairs and format → Calls whose answer is the in-process
    handler's, in the format the server runs."""
    return expect(build_handler(model, model_format(model, chosen_format)), model, bodies)


def targets(model, chosen_format=None, before=False) -> list:
    """Model → [(kind, body name, calls)]: the model itself and its no-op twin, same bodies; with
    `before`, the model alone, which must give the answers the handler gives now."""
    bodies = [sample_body(model)]
    if before:
        return [("served before", "sample", expected_calls(model, bodies, chosen_format))]
    found = [("served", "sample", expected_calls(model, bodies, chosen_format)),
             ("server limit", "sample", [Call(noop_name(model), body, content_type, 200, NOOP_ANSWER)
                                         for body, content_type in bodies])]
    if model == BENCHMARKED:
        # The body the LitServe peer takes too, so that comparison is like for like.
        found.append(("served", "json", expected_calls(model, [json_image_body()], chosen_format)))
    return found


class Served:
    """One running TorchServe as the benchmark loads it: its URLs, and a fresh key for each call."""

    def __init__(self, server):
        self.server = server
        key = FreshKey(server)
        self.headers = lambda: bearer(key())

    def url_for(self, call) -> str:
        return f"{self.server.inference_url}/predictions/{call.model}"

    def load(self, calls, seconds, concurrency=64):
        """Unmeasured load → run_load's (outcomes, elapsed)."""
        return run_load(self.url_for, calls, concurrency, seconds, self.headers)

    def measure(self, calls, seconds, warm_up_s, concurrency=64, processes=None) -> dict:
        """One measured point → measure_point's figures, with the CPU of this server's
        processes (looked up now unless given)."""
        return measure_point(self.url_for, calls, concurrency, seconds, warm_up_s, self.headers,
                             processes or server_processes(self.server))


def server_processes(server) -> dict:
    """A running TorchServe → {"frontend": [java], "workers": [python workers]} for CPU accounting."""
    frontend = server.frontend()
    return {"frontend": [frontend], "workers": frontend.children(recursive=True)}


def sweep(models, batching, workers_list, concurrencies, seconds, warm_up_s, chosen_format=None,
          profile_at=(), log=print, before=False, warm_ups=None, jit_warm_up=None) -> tuple:
    """Serve `models` with batching on or off, in `chosen_format` (None: each model-config's),
    the handlers as they are or, with `before`, as they were → (one figure dict per model or
    twin, workers and concurrency; py-spy shares of a worker at each (model, workers,
    concurrency) in `profile_at`; one worker-start dict per model). The server's JIT warm-up
    (bench.jit.warm_up, with `jit_warm_up` as its keyword arguments) is appended to `warm_ups`
    when given."""
    points, profiles = [], []
    handlers = "before" if before else "after"
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        folder = Path(folder)
        configs = config_dir(folder / "model-config", models, batching)
        store = build_store(folder / "model_store", models, configs, chosen_format, before)
        names = [n for model in models for n in ((model,) if before else (model, noop_name(model)))]
        (folder / "server").mkdir()
        log(f"starting TorchServe, batching {'on' if batching else 'off'}, handlers {handlers}, "
            f"{len(names)} models …")
        with running_server(folder / "server", store, ready_timeout_s=300) as server:
            served = Served(server)
            plan = [(model, *target) for model in models
                    for target in targets(model, chosen_format, before)]
            # Before any other load: what a fresh worker's first answers cost.
            first = {model: worker_start.first_answers(server, calls[0])
                     for model, kind, body, calls in plan if body == "sample" and kind != "server limit"}
            # Without this the first points would measure the JIT rather than the server.
            warmed = jit.warm_up(served, [calls for model, kind, body, calls in plan], log=log,
                                 **(jit_warm_up or {}))
            if warm_ups is not None:
                warm_ups.append({"server": f"sweep, batching {'on' if batching else 'off'}",
                                 **warmed})
            for workers in workers_list:
                for name in names:
                    server.scale(name, workers)
                processes = server_processes(server)
                for model, kind, body, calls in plan:
                    for concurrency in concurrencies:
                        figures = served.measure(calls, seconds, warm_up_s, concurrency,
                                                 processes)
                        point = {"kind": kind, "stack": "torchserve", "model": model, "body": body,
                                 "batching": batching,
                                 "batch_size": int(settings(model, configs).get("batchSize", 1)),
                                 "workers": workers, "concurrency": concurrency, **figures}
                        points.append(point)
                        log(describe(point))
                        if kind == "served" and body == "sample" and \
                                (model, workers, concurrency) in profile_at:
                            profiles.append({"model": model, "batching": batching,
                                             "workers": workers, "concurrency": concurrency,
                                             **profiled(served, model, calls, concurrency,
                                                        seconds)})
            workers_logged = worker_start.logged(worker_start.worker_log(server))
    starts = [{"model": model, "handlers": handlers, "batching": batching,
               "first_answers_ms": first[model], **workers_logged.get(model, {})} for model in models]
    return points, profiles, starts


def profiled(served, model, calls, concurrency, seconds) -> dict:
    """The same load again while py-spy samples the model's first worker → profile.shares()."""
    if not profile.py_spy():
        return {"samples": 0, "error": "py-spy is not installed (requirements-bench.txt)"}
    spy = profile.record(served.server.worker_pids(model)[0], seconds)
    served.load(calls, profile.whole_seconds(seconds) + 0.5, concurrency)
    return profile.shares(spy)


def describe(point) -> str:
    """A point → one progress line."""
    return (f"  {point['stack']:10} {point['kind']:12} {point['model']:13} {point['body']:6} "
            f"batch {point['batch_size']:2} workers {point['workers']} c={point['concurrency']:<3} "
            f"{point['throughput']:8.0f} req/s  p50 {point['p50']:6.1f} ms  p99 {point['p99']:6.1f} ms"
            + (f"  {point['wrong']} WRONG: {point['problems'][:1]}" if point["wrong"] else ""))
