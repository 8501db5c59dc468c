"""The issue's targets, judged on one run's figures → ratios, whether each is met, and what bounds it.

Every figure in a ratio comes from the same run, so a busy machine moves both
sides together. A target whose points were not measured (say, --quick) is
reported as not measured, never as met.
"""

from harness.examples import subject

# The family the targets are judged on; None leaves them not measured.
MAIN_MODEL = subject("benchmark", optional=True)


def find(points, **wanted):
    """Points and field values → the one point with exactly those values, or None."""
    matches = [p for p in points if all(p.get(k) == v for k, v in wanted.items())]
    return matches[0] if matches else None


def compute_limit(result, model, batching, workers) -> float:
    """In-process handle() requests/s at the batch size the server forms, times the workers that
    can run at once (one core each)."""
    size = (result["model_config"][model].get("batchSize") or 1) if batching else 1
    per_process = result["compute"][model]["handle"].get(str(size))
    return per_process * min(workers, result["cores"]) if per_process else None


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


def evaluate(result) -> list:
    """A run's result → one judged target per line of the issue (and per worker count measured)."""
    workers = result["settings"]["workers"]
    return [*[served_share(result, w) for w in workers],
            *[batching_gain(result, w) for w in workers],
            *[tail_latency(result, m) for m in result["settings"]["models"]],
            peer_ratio(result)]
