"""A run's result → docs/performance.md: the command, the targets as ratios, every table, the plots."""

import os
from pathlib import Path

from bench.compute import STEPS
from bench.jit import SETTLED_SHARE
from bench.plots import write_plots
from bench.targets import MAIN_MODEL, before_and_after, compute_limit, find
from harness.settings import ROOT


def rate(value) -> str:
    return "–" if value is None else f"{value:,.0f}"


def ratio(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def share(value) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def shown(path, base) -> str:
    """A path → relative to `base` when inside it, else absolute (for links and the text)."""
    relative = os.path.relpath(path, base)
    return str(Path(path).resolve()) if relative.startswith("..") else relative


def cores_busy(point) -> str:
    return ", ".join(f"{role} {value:.2f}" for role, value in point["cores_busy"].items())


def verdict(item) -> str:
    if item["met"] is None:
        return "not measured"
    if item["met"]:
        return "**met**"
    wanted, got = item["wanted"], item["ratio"]
    # "within 3×" targets are met below the bound, the others above it.
    if "within" in item["name"]:
        return f"**missed**: {got:.2f} is {got / wanted:.2f}× the bound"
    return f"**missed**: {got:.2f} is {share(got / wanted)} of {wanted:g}"


def targets_section(result) -> list:
    lines = ["## Targets", "",
             "Each ratio divides two figures of this same run.", "",
             "| target | wanted | measured | verdict | figures |", "|---|---:|---:|---|---|"]
    for item in result["targets"]:
        figures = "; ".join(f"{k} {v:,.1f}" for k, v in item["evidence"].items()
                            if k != "cores busy" and v is not None)
        lines.append(f"| {item['name']} | {item['wanted']:g} | {ratio(item['ratio'])} | "
                     f"{verdict(item)} | {figures}{'; ' + item['note'] if item['note'] else ''} |")
    missed = [item for item in result["targets"] if item["met"] is False]
    if missed:
        lines += ["", "What bounds the missed ones, from this run's own measurements:", ""]
        lines += bounds(result, missed)
    return lines


def bounds(result, missed) -> list:
    """Missed targets → what held each back: CPU per process role, and the worker's profile."""
    lines = []
    cores = result["cores"]
    busy_points = [p for p in result["points"] if p["kind"] == "served" and p["batching"]
                   and p["concurrency"] == 64 and p["model"] == MAIN_MODEL
                   and p["body"] == "sample"]
    for point in busy_points:
        lines.append(f"- {MAIN_MODEL}, c=64, batching on, {point['workers']} worker(s): "
                     + cpu_bound(point, cores))
    for profile in result["profiles"]:
        if profile.get("samples"):
            parts = ", ".join(f"{name} {share(value)}" for name, value in profile["buckets"].items())
            lines.append(f"- py-spy on the {profile['model']} worker at c={profile['concurrency']}, "
                         f"{profile['workers']} worker(s): {parts}.")
    for item in missed:
        if "batching on ≥" in item["name"]:
            lines.append(gain_bound(result, item))
        if "p99" in item["name"]:
            model = item["name"].split(",")[0]
            point = find(result["points"], kind="served", model=model, body="sample",
                         batching=True, workers=1, concurrency=8)
            lines.append(f"- {model}, c=8: p50 {point['p50']:.1f} ms, p95 {point['p95']:.1f} ms, "
                         f"p99 {point['p99']:.1f} ms over {point['requests']:,} requests; cores "
                         f"busy meanwhile: {cores_busy(point)}.")
        if "composite bound" in item["name"]:
            lines.append(composite_miss(result, item))
        if "issue 15" in item["name"]:
            lines.append(gain_miss(result, item))
    if any("LitServe" in item["name"] for item in missed):
        lines.append("- TorchServe against LitServe: both run the same handler code; the "
                     "difference is the frontend and the hop to the worker (cores busy per "
                     "process above, and in the peer table).")
    return lines


def cpu_bound(point, cores) -> str:
    """A served point → how many cores the benchmark's processes kept busy, and whether the
    machine's CPU is the bound."""
    ours = {k: v for k, v in point["cores_busy"].items() if k != "other processes"}
    total, others = sum(ours.values()), point["cores_busy"].get("other processes", 0.0)
    return (f"the benchmark's processes kept {total:.2f} of {cores} cores busy ({cores_busy(point)})"
            + (": the machine's CPU is the bound, shared by the frontend, the workers and "
               "the load generator" if total + others >= 0.85 * cores else "")
            + (f"; other processes took {others:.2f} cores, so rerun on a quiet machine "
               "before trusting these figures." if others > 0.2 else "."))


def named_workers(item) -> tuple:
    """A target named "<model>, c=…, batching on, <n> worker(s): …" → (model, n)."""
    parts = item["name"].split(", ")
    return parts[0], int(parts[3].split()[0])


def composite_miss(result, item) -> str:
    """A missed composite-bound target → what the served figure lost, and to what."""
    model, workers = named_workers(item)
    figures = before_and_after(result, model, workers)
    return (f"- {model}, c=64, {workers} worker(s): served {rate(figures['served after'])}/s of a "
            f"composite bound of {rate(figures['composite bound after'])}/s (server limit "
            f"{rate(figures['server limit'])}/s, compute limit "
            f"{rate(figures['compute limit after'])}/s); the two limits are each measured with the "
            "machine to themselves, served they share it: " + cpu_bound(figures["point"],
                                                                     result["cores"])
            + compute_served(figures) + feeder(figures))


def compute_served(figures) -> str:
    """The paired rounds' handler rate inside the served workers → a sentence comparing it with
    the compute limit, and served with the composite bound it gives; "" when not measured."""
    served_rate, limit = figures.get("compute served"), figures["compute limit after"]
    bound, served = figures.get("composite bound served"), figures["served after"]
    if not (served_rate and limit and bound and served):
        return ""
    return (f" Inside the served workers the handler's own steps ran at {rate(served_rate)}/s "
            f"({served_rate / limit:.0%} of the compute limit, from their step metrics); with that "
            f"rate the composite bound is {rate(bound)}/s, and served is {served / bound:.0%} of it.")


def feeder(figures) -> str:
    """The paired rounds' CPU of the frontend's worker threads → a sentence giving it per batch,
    served and for the twin; "" when not measured (no /proc, or no jstack to name threads)."""
    found, size = figures.get("feeder us") or {}, figures.get("batch size")
    if not (size and found.get("served") and found.get("server limit")):
        return ""
    return (f" The frontend's worker thread, which answers a batch's clients and hands its worker "
            f"the next batch while the worker waits, spent {found['served'] * size:,.0f} µs of CPU "
            f"a batch of {size} ({found['server limit'] * size:,.0f} µs for the no-op twin; "
            "bench/frontend_threads.py).")


def gain_miss(result, item) -> str:
    """A missed before/after target → how much the handler gained in process, and how much of
    that the composite bound lets through."""
    model, workers = named_workers(item)
    figures = before_and_after(result, model, workers)
    bounds = [figures[f"composite bound {side}"] for side in ("before", "after")]
    limits = [figures[f"compute limit {side}"] for side in ("before", "after")]
    wanted = item["wanted"] * figures["served before"]
    return (f"- {model}, c=64, {workers} worker(s): served went from "
            f"{rate(figures['served before'])}/s to {rate(figures['served after'])}/s. In process "
            f"the handler went from {rate(limits[0])}/s to {rate(limits[1])}/s "
            f"({ratio(limits[0] and limits[1] and limits[1] / limits[0])}×), but served every "
            f"request also pays the serving stack (server limit {rate(figures['server limit'])}/s), "
            f"so the composite bound rose only from {rate(bounds[0])}/s to {rate(bounds[1])}/s "
            f"({ratio(bounds[0] and bounds[1] and bounds[1] / bounds[0])}×); "
            f"{item['wanted']:g}× the served before is {rate(wanted)}/s"
            + (", above the composite bound after: reachable only where the frontend and the "
               "worker overlap more than the bound assumes." if bounds[1] and wanted > bounds[1] else
               ", within the composite bound after."))


def gain_bound(result, item) -> str:
    """A missed batching-gain target → the most batching could give here, and why."""
    workers = int(item["name"].split(", ")[2].split()[0])
    model = item["name"].split(",")[0]
    handle = result["compute"][model]["handle"]
    size = str(result["model_config"][model]["batchSize"])
    ceiling = find(result["points"], kind="server limit", model=model, batching=True,
                   workers=workers, concurrency=32)
    on_limit = min(compute_limit(result, model, True, workers), ceiling["throughput"])
    shares = result["compute"][model]["shares"]
    return (f"- {model}, c=32, {workers} worker(s): batching shares only the forward pass and the "
            f"trip to the worker. In process, batch {size} answers {handle[size] / handle['1']:.1f}× "
            f"as many requests per second as batch 1, because decode + preprocess "
            f"({share(shares['decode'] + shares['preprocess'])} of the time) stay per request; "
            f"served, batching on is bounded by min(compute limit, server limit) = "
            f"{rate(on_limit)}/s, {on_limit / item['evidence']['off']:.1f}× the unbatched "
            f"{rate(item['evidence']['off'])}/s.")


def compute_section(result) -> list:
    models = result["settings"]["models"]
    sizes = sorted({int(s) for m in models for s in result["compute"][m]["handle"]})
    head = " | ".join(f"batch {s}" for s in sizes)
    lines = ["## Compute limit (in process, no HTTP)", "",
             "Requests per second of `ModelHandler.handle` over a batch of requests built from the "
             "model's sample (decode → preprocess → one batched forward pass → postprocess), and of "
             "the bare forward pass over the already collated batch; one process, with as many "
             "torch threads as one TorchServe worker of that model.", "",
             f"| model | torch threads | step | {head} |", "|---|---:|---|" + "---:|" * len(sizes)]
    for model in models:
        figures = result["compute"][model]
        for step in ("handle", "forward"):
            cells = " | ".join(rate(figures[step].get(str(s))) for s in sizes)
            lines.append(f"| {model} | {figures['torch_threads']} | {step} | {cells} |")
    lines += ["", "### Where a request's time goes", "",
              "Shares of `handle()` time at the batch size the server forms (batchSize in "
              "model-config); preprocessing is decode + preprocess.", "",
              "| model | batch | " + " | ".join(STEPS) + " | other | preprocessing share |",
              "|---|---:|" + "---:|" * (len(STEPS) + 2)]
    for model in models:
        shares = result["compute"][model]["shares"]
        cells = " | ".join(share(shares[s]) for s in STEPS)
        lines.append(f"| {model} | {shares['batch_size']} | {cells} | {share(shares['other'])} | "
                     f"**{share(shares['decode'] + shares['preprocess'])}** |")
    return lines


def served_section(result) -> list:
    lines = ["## Served over HTTP", "",
             "Right answers per second (status 200 and the in-process answer) and latency per "
             "request, with the model's sample as every request. *Server limit* is the no-op twin "
             "(same TorchServe, same batch settings and workers, same body, a constant answer). "
             "*Cores busy* is CPU seconds per second of the Java frontend, the Python workers, "
             "the load generator and every other process on the machine during the point: "
             "figures taken while *other processes* is well above 0 are not comparable."]
    for model in result["settings"]["models"]:
        lines += ["", f"### {model}", "",
                  "| batching | workers | concurrency | answers/s | p50 ms | p95 ms | p99 ms | wrong "
                  "| server limit/s | of server limit | of compute limit | cores busy |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for point in [p for p in result["points"] if p["kind"] == "served" and p["model"] == model
                      and p["body"] == "sample"]:
            twin = find(result["points"], kind="server limit", model=model,
                        batching=point["batching"], workers=point["workers"],
                        concurrency=point["concurrency"])
            limit = compute_limit(result, model, point["batching"], point["workers"])
            batching = f"on ({point['batch_size']})" if point["batching"] else "off"
            lines.append(
                f"| {batching} | {point['workers']} | {point['concurrency']} | "
                f"{rate(point['throughput'])} | {point['p50']:.1f} | {point['p95']:.1f} | "
                f"{point['p99']:.1f} | {point['wrong']} | {rate(twin and twin['throughput'])} | "
                f"{share(twin and point['throughput'] / twin['throughput'])} | "
                f"{share(limit and point['throughput'] / limit)} | {cores_busy(point)} |")
    return lines


def before_after_section(result) -> list:
    """The served figures with the handlers before and after issue 15, beside their bounds."""
    if not any(p["kind"] == "served before" for p in result["points"]) and \
            not any("served before" in r for r in result.get("paired", [])):
        return []
    lines = ["## Before and after issue 15, served", "",
             "c=64, batching on; each figure is the median of the paired rounds (bench/paired.py, "
             "*rounds* below), every one of whose figures was measured within seconds of the "
             "others. *Before* is a TorchServe whose workers run the handlers as they "
             "were before issue 15 (bench/handlers_before, archived with `archive.sh "
             "--handler-classes bench.handlers_before`), *after* the handlers as they are; the "
             "same server configuration, checkpoint and body, and the same answers required. "
             "*Compute limit* is in-process handle() at batchSize (times the workers); the "
             "*composite bound* is 1 / (1/server limit + 1/compute limit): what the server could "
             "answer if each request cost the serving stack's time and then the handler's. "
             "*Handler served* is requests per second of the after handler's own steps inside the "
             "served workers (their step metrics, times the workers), beside the compute limit: "
             "what sharing the machine with the frontend and the load generator left of it.", "",
             "| model | workers | rounds | served before/s | served after/s | after / before | "
             "compute limit before / after | server limit/s | composite bound before / after | "
             "before of its bound | after of its bound | handler served/s (of compute limit) |",
             "|---|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---:|"]
    for model in result["settings"]["models"]:
        for workers in result["settings"]["workers"]:
            figures = before_and_after(result, model, workers)
            served = [figures[f"served {side}"] for side in ("before", "after")]
            bounds = [figures[f"composite bound {side}"] for side in ("before", "after")]
            lines.append(
                f"| {model} | {workers} | {figures['rounds']} | {rate(served[0])} | "
                f"{rate(served[1])} | "
                f"{ratio(served[0] and served[1] and served[1] / served[0])} | "
                f"{rate(figures['compute limit before'])} / {rate(figures['compute limit after'])} | "
                f"{rate(figures['server limit'])} | {rate(bounds[0])} / {rate(bounds[1])} | "
                + " | ".join(share(figure and bound and figure / bound)
                             for figure, bound in zip(served, bounds))
                + f" | {handler_served(figures)} |")
    return lines


def handler_served(figures) -> str:
    """The handler's rate inside the served workers, and its share of the compute limit."""
    served_rate, limit = figures.get("compute served"), figures["compute limit after"]
    return rate(served_rate) + (f" ({served_rate / limit:.0%})" if served_rate and limit else "")


def worker_start_section(result) -> list:
    """Each worker's warm-up, as it logged it, and a fresh server's first answers."""
    starts = result.get("worker_starts", [])
    if not starts:
        return []
    lines = ["## Worker start", "",
             "Each worker answers one request of its own family before it reports READY "
             "(handlers/warm_up.py) and logs how long that took; *warm-up* lists what each worker "
             "of the model logged, one figure per worker start (one more per worker scaled up). "
             "*First answers* are the first three requests a fresh server answered, one at a "
             "time, as soon as it was READY and before any other load (with batching on they "
             "include maxBatchDelay). *Handler* is the class the worker logged it built.", "",
             "| model | handlers | batching | warm-up ms (each worker) | first answers ms | handler |",
             "|---|---|---|---|---|---|"]
    for start in starts:
        logged = ", ".join(f"{ms:.0f}" for ms in start.get("warm_up_ms", [])) or "none logged"
        lines.append(f"| {start['model']} | {start['handlers']} | "
                     f"{'on' if start['batching'] else 'off'} | {logged} | "
                     + " / ".join(f"{ms:.1f}" for ms in start["first_answers_ms"])
                     + f" | `{start.get('handler') or '?'}` |")
    return lines


def peer_section(result) -> list:
    peers = [p for p in result["points"] if p["kind"] == "peer"]
    if not peers:
        return []
    lines = [f"## Peer: the same {MAIN_MODEL} behind LitServe", "",
             "LitServe with its own batching (max_batch_size and batch_timeout from "
             "model-config), one inference worker, one API server, API key on; its LitAPI calls "
             "the project's handler steps as they are now, after issue 15 (bench/litserve_peer.py), "
             "as the TorchServe archives do. Both take the sample as JSON "
             '`{"image": "<base64>"}`, the body LitServe accepts.', "",
             "| concurrency | TorchServe answers/s | LitServe answers/s | TorchServe / LitServe "
             "| TorchServe p50 / p99 ms | LitServe p50 / p99 ms | LitServe cores busy |",
             "|---:|---:|---:|---:|---|---|---|"]
    for theirs in peers:
        ours = find(result["points"], stack="torchserve", kind="served", model=theirs["model"],
                    body="json", batching=True, workers=1, concurrency=theirs["concurrency"])
        lines.append(
            f"| {theirs['concurrency']} | {rate(ours and ours['throughput'])} | "
            f"{rate(theirs['throughput'])} | "
            f"{ratio(ours and theirs['throughput'] and ours['throughput'] / theirs['throughput'])} | "
            + (f"{ours['p50']:.1f} / {ours['p99']:.1f}" if ours else "–")
            + f" | {theirs['p50']:.1f} / {theirs['p99']:.1f} | {cores_busy(theirs)} |")
    return lines


def profile_section(result) -> list:
    lines = []
    for profile in result["profiles"]:
        lines += ["", f"### py-spy: the {profile['model']} worker at c={profile['concurrency']}, "
                  f"batching {'on' if profile['batching'] else 'off'}, {profile['workers']} worker(s)",
                  ""]
        if not profile.get("samples"):
            lines.append(f"No samples: {profile.get('error', 'unknown reason')}")
            continue
        lines += [f"{profile['samples']:,} samples of the worker's Python stack, idle included.", "",
                  "| part of the work | share |", "|---|---:|"]
        lines += [f"| {name} | {share(value)} |" for name, value in profile["buckets"].items()]
        lines += ["", "| innermost frame | share |", "|---|---:|"]
        lines += [f"| `{frame}` | {share(value)} |" for frame, value in profile["top"]]
    return ["## Where the worker's time goes under load", *lines] if lines else []


def jit_warm_up_line(warm_ups) -> str:
    """bench.jit.warm_up results, one per fresh server → one line of the report's method."""
    def one(warmed):
        if warmed["compiler_share"] is None:
            return f"{warmed['server']} {warmed['seconds']:.0f} s (compiler threads not readable here)"
        return (f"{warmed['server']} {warmed['seconds']:.0f} s"
                + ("" if warmed["settled"] else
                   f" (stopped with the compilers still at {warmed['compiler_share']:.0%})"))
    return ("- before its first point, each fresh TorchServe was loaded until its JVM's JIT "
            f"compilers used under {SETTLED_SHARE:.0%} of a core over a pass through its models "
            "(bench/jit.py): " + "; ".join(one(warmed) for warmed in warm_ups))


def write_report(result, json_path, report_path, plots_folder):
    """Result and where its JSON lies → the Markdown report at report_path, with plots beside it."""
    report_path = Path(report_path)
    plots = write_plots(result, Path(plots_folder))
    base = report_path.parent
    settings = result["settings"]
    lines = [
        "# Performance", "",
        "Written by `make bench` (bench/); do not edit by hand. Compute limit, server limit, "
        "served figures and a peer, all measured in one run on one machine, so the targets "
        "below are ratios of figures taken side by side.", "",
        "## How these figures were made", "",
        "```sh", result["command"], "```", "",
        f"- started {result['started']} on {result['machine']} before the run; "
        f"took {result['minutes']:.1f} minutes",
        f"- {settings['seconds']} s of load per point after {settings['warm_up_s']} s of warm-up; "
        f"concurrency {', '.join(map(str, settings['concurrencies']))}; "
        f"workers {', '.join(map(str, settings['workers']))}"
        + (f"; archive.sh --format {settings['format']}" if settings.get("format") else ""),
        f"- raw figures: `{shown(json_path, ROOT)}`",
        *([jit_warm_up_line(result["jit_warm_ups"])] if result.get("jit_warm_ups") else []),
        *([f"- the ratios of the targets at c=64 divide medians of {settings['rounds']} paired "
           f"rounds per model and worker count (bench/paired.py): in each, within seconds, the "
           f"in-process handle() now"
           + (" and before issue 15" if settings.get("before") else "")
           + f", then {settings['round_seconds']} s of load each on the model served, its no-op "
           "twin" + (", and the model served by a second TorchServe whose workers run the "
                     "handlers before issue 15 (archive.sh --handler-classes "
                     "bench.handlers_before)" if settings.get("before") else "")
           + "; the order of the served figures turns from round to round"]
          if result.get("paired") else []),
        "- model formats (archive.sh --format): " + ", ".join(
            f"{m} {f}" for m, f in result.get("formats", {}).items()),
        "- batching on is each model's model-config/<model>.yaml: "
        + "; ".join(f"{m} batchSize {c['batchSize']}, maxBatchDelay {c['maxBatchDelay']} ms"
                    for m, c in result["model_config"].items())
        + "; batching off is the same with batchSize 1",
        "- the load generator (bench/http_load.py: asyncio, kept-alive HTTP/1.1 connections, "
        "bearer inference key, every answer checked) runs on the same cores as the server; its "
        "share is in *cores busy*",
    ]
    others = [p["cores_busy"].get("other processes", 0.0) for p in result["points"]]
    if others and sum(others) / len(others) > 0.2:
        lines += ["", f"**Measured beside other work: processes outside the benchmark took "
                  f"{sum(others) / len(others):.2f} of {result['cores']} cores on average. "
                  "These figures are not comparable with a run on a quiet machine.**"]
    if settings["quick"]:
        lines += ["", "**Quick mode: durations too short for the figures to mean anything; this "
                  "run only checks the harness.**"]
    lines += ["", *targets_section(result), "",
              f"![throughput against concurrency]({shown(plots['throughput'], base)})", "",
              f"![latency percentiles]({shown(plots['latency'], base)})", "",
              *compute_section(result), "", *served_section(result), "",
              *before_after_section(result), "", *peer_section(result), "",
              *worker_start_section(result), "", *profile_section(result), "", *reading(), ""]
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text("\n".join(lines))


def reading() -> list:
    return ["## How to read this", "",
            "- **Compute limit** is what one worker could answer if HTTP and TorchServe cost "
            "nothing; with two workers it is doubled (one core each) as long as the machine has "
            "the cores.",
            "- **Server limit** is what TorchServe answers when the model costs nothing: the "
            "ceiling of the frontend, the batching queue and the frontend-to-worker protocol.",
            "- A served figure near the lower of the two limits means the serving stack adds "
            "little; far below both, the time goes somewhere neither limit shows (often the "
            "cores: on a small machine the frontend, the workers and the load generator compete "
            "for them, see *cores busy*).",
            "- **Composite bound** is 1 / (1/server limit + 1/compute limit): if a request cost "
            "the serving stack's time and then the handler's, one after the other, this is what "
            "the server could answer; a served figure near it means the two costs simply add. It is "
            "not a hard ceiling: the frontend and a worker can work on different requests at "
            "once, so with cores to spare a served figure can pass it.",
            "- p50/p95/p99 are per-request latencies seen by the client, queueing included; at "
            "concurrency 1 they include maxBatchDelay, the wait for company a lone request pays.",
            "- A non-zero *wrong* column means answers differed from the in-process answers: the "
            "run exits non-zero and those figures are not to be trusted."]
