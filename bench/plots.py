"""A run's figures → PNG plots: throughput against concurrency, and latency percentiles."""

import matplotlib

matplotlib.use("Agg")  # files only; no display on a server
import matplotlib.pyplot as plt  # noqa: E402

from bench.targets import compute_limit  # noqa: E402


def panels(count):
    """Number of models → a figure and a flat list of axes, two panels a row."""
    rows = (count + 1) // 2
    figure, axes = plt.subplots(rows, min(count, 2), figsize=(6.5 * min(count, 2), 4.2 * rows),
                                squeeze=False)
    flat = list(axes.flat)
    for spare in flat[count:]:
        spare.set_visible(False)
    return figure, flat


def concurrency_axis(axis, concurrencies):
    """Log-scaled x axis labelled with the concurrencies measured."""
    axis.set_xscale("log", base=2)
    axis.set_xticks(concurrencies, [str(c) for c in concurrencies])
    axis.set_xlabel("concurrency (requests in flight)")


def series(points, **wanted) -> list:
    """Points and field values → those points, by concurrency."""
    return sorted((p for p in points if all(p.get(k) == v for k, v in wanted.items())),
                  key=lambda p: p["concurrency"])


def throughput_plot(result, path):
    """One panel per model: served requests/s against concurrency for each batching and worker
    setting, the server limit (no-op twin) dashed, the compute limit dotted, the peer in grey."""
    models = result["settings"]["models"]
    figure, axes = panels(len(models))
    for axis, model in zip(axes, models):
        for batching in (False, True):
            for workers in result["settings"]["workers"]:
                label = f"batching {'on' if batching else 'off'}, {workers} worker(s)"
                served = series(result["points"], kind="served", model=model, body="sample",
                                batching=batching, workers=workers)
                line, = axis.plot([p["concurrency"] for p in served],
                                  [p["throughput"] for p in served], marker="o", label=label)
                if batching:
                    ceiling = series(result["points"], kind="server limit", model=model,
                                     batching=batching, workers=workers)
                    axis.plot([p["concurrency"] for p in ceiling], [p["throughput"] for p in ceiling],
                              linestyle="--", color=line.get_color(), alpha=0.6,
                              label=f"server limit, {workers} worker(s)")
                    limit = compute_limit(result, model, True, workers)
                    if limit:
                        axis.axhline(limit, linestyle=":", color=line.get_color(),
                                     label=f"compute limit, {workers} worker(s)")
        peer = series(result["points"], kind="peer", model=model)
        if peer:
            axis.plot([p["concurrency"] for p in peer], [p["throughput"] for p in peer],
                      marker="s", color="grey", label="LitServe peer (JSON body)")
        finish_panel(axis, result, model, "right answers per second")
    save(figure, path)


def latency_plot(result, path):
    """One panel per model: p50, p95 and p99 against concurrency, batching on and off, 1 worker."""
    models = result["settings"]["models"]
    figure, axes = panels(len(models))
    for axis, model in zip(axes, models):
        for batching, style in ((True, "-"), (False, "--")):
            points = series(result["points"], kind="served", model=model, body="sample",
                            batching=batching, workers=result["settings"]["workers"][0])
            for share, color in (("p50", "tab:blue"), ("p95", "tab:orange"), ("p99", "tab:red")):
                axis.plot([p["concurrency"] for p in points], [p[share] for p in points],
                          linestyle=style, marker="o", color=color,
                          label=f"{share}, batching {'on' if batching else 'off'}")
        finish_panel(axis, result, f"{model}, {result['settings']['workers'][0]} worker(s)",
                     "latency (ms)")
    save(figure, path)


def finish_panel(axis, result, title, ylabel):
    """One panel → labelled, log-scaled, with the run's concurrencies on its x axis."""
    concurrency_axis(axis, result["settings"]["concurrencies"])
    axis.set_yscale("log")
    axis.set_title(title)
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=6)


def save(figure, path):
    """A finished figure → a PNG at `path`, and its memory freed."""
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_plots(result, folder) -> dict:
    """A run's result → {"throughput": path, "latency": path} of the PNGs written in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"throughput": folder / "throughput.png", "latency": folder / "latency.png"}
    throughput_plot(result, paths["throughput"])
    latency_plot(result, paths["latency"])
    return paths
