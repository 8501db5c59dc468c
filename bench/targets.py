"""The issue's targets, judged on one run's figures → ratios, whether each is met, and what bounds it.

Every figure in a ratio comes from the same run, so a busy machine moves both
sides together. A target whose points were not measured (say, --quick) is
reported as not measured, never as met.
"""

from bench.paired import feeder_medians, median_round, medians, rounds_of
from harness.examples import subject

# The family the targets are judged on; None leaves them not measured.
MAIN_MODEL = subject("benchmark", optional=True)


def find(points, **wanted):
    """Points and field values → the one point with exactly those values, or None."""
    matches = [p for p in points if all(p.get(k) == v for k, v in wanted.items())]
    return matches[0] if matches else None


def compute_limit(result, model, batching, workers, step="handle") -> float:
    """In-process handle() requests/s at the batch size the server forms, times the workers that
    can run at once (one core each); step "handle_before": of the handler before issue 15."""
    size = (result["model_config"][model].get("batchSize") or 1) if batching else 1
    per_process = result["compute"][model].get(step, {}).get(str(size))
    return per_process * min(workers, result["cores"]) if per_process else None


def composite_bound(server_limit, compute_limit) -> float:
    """The server limit and the compute limit → what a server can answer when every request costs
    the serving stack's time and then the handler's, one after the other:
    1 / (1/server limit + 1/compute limit); None when either is missing."""
    if not (server_limit and compute_limit):
        return None
    return 1 / (1 / server_limit + 1 / compute_limit)


def before_and_after(result, model, workers) -> dict:
    """Model and worker count → its figures at c=64, batching on, each None when not measured:
    served with the handlers before issue 15 and after, the server limit, the compute limits and
    composite bounds before and after, the served point (for its cores busy) and how many
    rounds each figure is the median of. From the paired rounds (bench/paired.py) where the run
    has them, else from the sweep's single points."""
    common = dict(model=model, body="sample", batching=True, workers=workers, concurrency=64)
    paired = medians(result, model, workers)
    if paired:
        ceiling = paired.get("server limit")
        figures = {"point": median_round(result, model, workers, "served"),
                   "server limit": ceiling, "rounds": len(rounds_of(result, model, workers)),
                   "compute served": paired.get("compute served"),
                   "composite bound served": composite_bound(ceiling,
                                                             paired.get("compute served")),
                   "feeder us": feeder_medians(result, model, workers),
                   "batch size": rounds_of(result, model, workers)[0].get("batch_size")}
        sides = (("after", "served", "compute limit"),
                 ("before", "served before", "compute limit before"))
        for side, kind, limit_kind in sides:
            limit = paired.get(limit_kind)
            figures.update({f"served {side}": paired.get(kind), f"compute limit {side}": limit,
                            f"composite bound {side}": composite_bound(ceiling, limit)})
        return figures
    points = {kind: find(result["points"], kind=kind, **common)
              for kind in ("served", "served before", "server limit")}
    ceiling = points["server limit"] and points["server limit"]["throughput"]
    figures = {"point": points["served"], "server limit": ceiling, "rounds": 1}
    for side, kind, step in (("after", "served", "handle"),
                             ("before", "served before", "handle_before")):
        limit = compute_limit(result, model, True, workers, step) \
            if model in result["compute"] else None
        figures.update({f"served {side}": points[kind] and points[kind]["throughput"],
                        f"compute limit {side}": limit,
                        f"composite bound {side}": composite_bound(ceiling, limit)})
    return figures


def target(name, wanted, ratio, met_if, evidence=None, note="") -> dict:
    measured = ratio is not None
    return {"name": name, "wanted": wanted, "ratio": ratio,
            "met": (met_if(ratio) if measured else None), "evidence": evidence or {},
            "note": note if measured else "not measured in this run"}


def served_share(result, workers) -> dict:
    """digits_cnn, c=64, batching on: served requests/s over min(compute limit, server limit)."""
    points = result["points"]
    common = dict(model=MAIN_MODEL, body="sample", batching=True, workers=workers, concurrency=64)
    served = find(points, kind="served", **common)
    ceiling = find(points, kind="server limit", **common)
    limit = compute_limit(result, MAIN_MODEL, True, workers) if MAIN_MODEL in result["compute"] else None
    if not (served and ceiling and limit):
        return target(f"{MAIN_MODEL}, c=64, batching on, {workers} worker(s): served ≥ 80% of "
                      "min(compute limit, server limit)", 0.8, None, lambda r: r >= 0.8)
    bound = min(limit, ceiling["throughput"])
    which = "compute limit" if limit <= ceiling["throughput"] else "server limit"
    return target(f"{MAIN_MODEL}, c=64, batching on, {workers} worker(s): served ≥ 80% of "
                  "min(compute limit, server limit)", 0.8, served["throughput"] / bound,
                  lambda r: r >= 0.8,
                  {"served": served["throughput"], "compute limit": limit,
                   "server limit": ceiling["throughput"], "cores busy": served["cores_busy"]},
                  f"the lower ceiling is the {which}")


def batching_gain(result, workers) -> dict:
    common = dict(kind="served", model=MAIN_MODEL, body="sample", workers=workers, concurrency=32)
    on, off = find(result["points"], batching=True, **common), find(result["points"], batching=False,
                                                                   **common)
    ratio = on["throughput"] / off["throughput"] if on and off and off["throughput"] else None
    return target(f"{MAIN_MODEL}, c=32, {workers} worker(s): batching on ≥ 4× batching off", 4.0,
                  ratio, lambda r: r >= 4.0,
                  {"on": on and on["throughput"], "off": off and off["throughput"]})


def tail_latency(result, model) -> dict:
    point = find(result["points"], kind="served", model=model, body="sample", batching=True,
                 workers=1, concurrency=8)
    ratio = point["p99"] / point["p50"] if point and point["p50"] else None
    return target(f"{model}, c=8, batching on, 1 worker: p99 within 3× of p50", 3.0, ratio,
                  lambda r: r <= 3.0, point and {"p50 ms": point["p50"], "p99 ms": point["p99"]})


def peer_ratio(result) -> dict:
    common = dict(model=MAIN_MODEL, body="json", batching=True, workers=1, concurrency=32)
    ours, theirs = find(result["points"], stack="torchserve", **common), find(
        result["points"], stack="litserve", **common)
    ratio = ours["throughput"] / theirs["throughput"] if ours and theirs and theirs["throughput"] \
        else None
    return target(f"{MAIN_MODEL}, c=32, JSON body, batching on, 1 worker: TorchServe ≥ 2× LitServe",
                  2.0, ratio, lambda r: r >= 2.0,
                  {"torchserve": ours and ours["throughput"],
                   "litserve": theirs and theirs["throughput"]})


def served_gain(result, workers=1) -> dict:
    """The benchmark's family, c=64, batching on: served after issue 15 over served before."""
    figures = before_and_after(result, MAIN_MODEL, workers)
    after, before = figures["served after"], figures["served before"]
    return target(f"{MAIN_MODEL}, c=64, batching on, {workers} worker(s): served with the "
                  "handlers after issue 15 ≥ 1.6× before", 1.6,
                  after / before if after and before else None, lambda r: r >= 1.6,
                  {"before": before, "after": after,
                   "composite bound after": figures["composite bound after"]})


def composite_share(result, model, workers) -> dict:
    """A family, c=64, batching on: served over the composite bound of its server limit and its
    compute limit."""
    figures = before_and_after(result, model, workers)
    served, bound = figures["served after"], figures["composite bound after"]
    lower = figures["compute limit after"] and figures["server limit"] and (
        "compute limit" if figures["compute limit after"] <= figures["server limit"]
        else "server limit")
    return target(f"{model}, c=64, batching on, {workers} worker(s): served ≥ 85% of the composite "
                  "bound 1 / (1/server limit + 1/compute limit)", 0.85,
                  served / bound if served and bound else None, lambda r: r >= 0.85,
                  {"served": served, "server limit": figures["server limit"],
                   "compute limit": figures["compute limit after"], "composite bound": bound},
                  f"the larger cost is the {lower}'s" if lower else "")


def evaluate(result) -> list:
    """A run's result → one judged target per line of the issue (and per worker count measured)."""
    workers = result["settings"]["workers"]
    return [*[served_share(result, w) for w in workers],
            *[batching_gain(result, w) for w in workers],
            *[tail_latency(result, m) for m in result["settings"]["models"]],
            peer_ratio(result), served_gain(result),
            *[composite_share(result, m, w) for m in result["settings"]["models"] for w in workers]]
