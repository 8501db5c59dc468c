"""TorchServe's Prometheus text → samples, and samples → a summary grouped by model.

TorchServe writes the text exposition format (with a trailing comma in each
label set). No Prometheus library is installed, so this reads the format
itself: `# HELP`, `# TYPE` and sample lines, label values with their escapes;
a histogram or summary is folded into one row per label set.
"""

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
# Labels that say which model a sample is about: TorchServe's own metrics use
# model_name, metrics from the handlers ModelName.
MODEL_LABELS = ("model_name", "ModelName")
# Labels that are the same on every sample of a server, or repeat the group.
QUIET_LABELS = {"hostname", "Hostname", "Level", *MODEL_LABELS}
SERVER = "server (no model label)"
UNIT = re.compile(r"with unit: (.+)$")
# The series a histogram or summary is written as; each is folded into one row.
PARTS = {"histogram": ("_bucket", "_count", "_sum", "_created"),
         "summary": ("_count", "_sum", "_created")}
QUANTILES = (0.5, 0.95)
SHORT_UNITS = {"Microseconds": "µs", "Milliseconds": "ms", "Megabytes": "MB", "Gigabytes": "GB",
               "Percent": "%", "Count": "", "count": ""}


@dataclass
class Metric:
    """One metric family: its help text, type and samples (labels, value); a histogram's or summary's
    series (_bucket, _count, _sum) under `parts`, by suffix."""

    name: str
    help: str = ""
    type: str = "untyped"
    samples: list = field(default_factory=list)
    parts: dict = field(default_factory=lambda: defaultdict(list))

    @property
    def unit(self) -> str:
        found = UNIT.search(self.help)
        return found.group(1).strip() if found else ""


def parse_labels(text: str) -> dict:
    """`a="1",b="x \\"y\\"",` → {"a": "1", "b": 'x "y"'}; ValueError on anything else."""
    labels, position = {}, 0
    text = text.strip()
    while position < len(text):
        found = LABEL.match(text, position)
        if not found:
            raise ValueError(f"cannot read labels at {text[position:position + 40]!r}")
        labels[found.group(1)] = re.sub(r'\\[\\"n]', lambda m: ESCAPES[m.group(0)],
                                        found.group(2))
        position = found.end()
    return labels


def family_of(metrics: dict, name: str) -> tuple:
    """A sample's name → (its metric, the suffix it has as part of a histogram or summary, or "")."""
    for suffix in ("_bucket", "_count", "_sum", "_created"):
        base = metrics.get(name[:-len(suffix)]) if name.endswith(suffix) else None
        if base is not None and suffix in PARTS.get(base.type, ()):
            return base, suffix
    return metrics.setdefault(name, Metric(name)), ""


def parse(text: str) -> dict:
    """Prometheus text → {metric name: Metric}, in the order they appear."""
    metrics = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line[1:].split(None, 2)
            if len(parts) >= 3 and parts[0] in ("HELP", "TYPE"):
                metric = metrics.setdefault(parts[1], Metric(parts[1]))
                if parts[0] == "HELP":
                    metric.help = parts[2]
                else:
                    metric.type = parts[2].strip()
            continue
        found = SAMPLE.fullmatch(line)
        if not found:
            raise ValueError(f"line {number} is not a Prometheus sample: {line[:80]!r}")
        name, labels, value = found.groups()
        try:
            sample = (parse_labels(labels or ""), float(value))
        except ValueError as error:
            raise ValueError(f"line {number}: {error}") from None
        metric, suffix = family_of(metrics, name)
        (metric.parts[suffix] if suffix else metric.samples).append(sample)
    return metrics


def by_sample(text: str) -> dict:
    """Prometheus text → {sample name: [(labels, value), ...]}: a histogram's or summary's series
    under their own names (name_bucket, name_count, …), in the order they appear."""
    found = {}
    for metric in parse(text).values():
        if metric.samples:
            found.setdefault(metric.name, []).extend(metric.samples)
        for suffix, samples in metric.parts.items():
            found.setdefault(metric.name + suffix, []).extend(samples)
    return found


def model_of(labels: dict) -> str:
    return next((labels[key] for key in MODEL_LABELS if labels.get(key)), SERVER)


def shown_labels(labels: dict) -> str:
    """A sample's labels → the ones worth printing, as {a="1"}: no host, no model, no default version."""
    kept = {k: v for k, v in labels.items()
            if k not in QUIET_LABELS and k not in ("le", "quantile")
            and not (k in ("model_version", "ModelVersion") and v in ("default", ""))}
    return "{" + ",".join(f'{k}="{v}"' for k, v in kept.items()) + "}" if kept else ""


def number(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value.is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) >= 0.01 else f"{value:.3g}"


def amount(value: float, unit: str) -> str:
    """A value in a metric's unit → readable text; seconds are shown in ms."""
    if unit in ("s", "Seconds") and math.isfinite(value):
        return f"{value * 1000:,.2f} ms"
    unit = SHORT_UNITS.get(unit, unit)
    return f"{number(value)} {unit}" if unit else number(value)


def distribution(metric, series: dict) -> str:
    """One label set of a histogram or summary ({suffix: [(labels, value)]}) → "count, mean, quantiles"."""
    count = sum(value for _, value in series.get("_count", []))
    total = sum(value for _, value in series.get("_sum", []))
    text = f"{number(count)} observed"
    if count:
        text += f", mean {amount(total / count, metric.unit)}"
    buckets = sorted((float(labels["le"]), value) for labels, value in series.get("_bucket", [])
                     if "le" in labels)
    largest = max((le for le, _ in buckets if math.isfinite(le)), default=None)
    for q in QUANTILES if count and largest is not None else ():
        # The bucket a quantile falls in gives a bound, not a value.
        bound = next(le for le, cumulative in buckets + [(math.inf, count)] if cumulative >= q * count)
        text += (f", {q:.0%} ≤ {amount(bound, metric.unit)}" if math.isfinite(bound) else
                 f", {q:.0%} > {amount(largest, metric.unit)}")
    for labels, value in series.get("", []):  # a summary's own quantiles
        if "quantile" in labels:
            text += f", {float(labels['quantile']):.0%} ≈ {amount(value, metric.unit)}"
    return text


def by_model(metrics: dict) -> dict:
    """{name: Metric} → {model: [(metric, labels shown, value, value as text), ...]}, samples without a
    model under SERVER; a histogram or summary is one row per label set."""
    groups = defaultdict(list)
    for metric in metrics.values():
        for labels, value in metric.samples if metric.type not in PARTS else ():
            groups[model_of(labels)].append(
                (metric, shown_labels(labels), value, amount(value, metric.unit)))
        sets = defaultdict(lambda: defaultdict(list))
        for suffix, samples in ({**metric.parts, "": metric.samples}.items()
                                if metric.type in PARTS else ()):
            for labels, value in samples:
                key = (model_of(labels), shown_labels(labels))
                sets[key][suffix].append((labels, value))
        for (model, shown), series in sets.items():
            groups[model].append((metric, shown, None, distribution(metric, series)))
    return groups


def mean_per_request(rows, metric, labels, value) -> str:
    """For TorchServe's latency counters (µs summed over requests): the mean per request, in ms."""
    if not metric.name.endswith("_latency_microseconds"):
        return ""
    count = next((v for m, shown, v, _ in rows
                  if m.name == "ts_inference_requests_total" and shown == labels), 0)
    return f"  (mean {value / count / 1000:,.2f} ms per request)" if count else ""


def summary(metrics: dict, model=None) -> list:
    """Parsed metrics (and a model to keep only its samples) → the lines of a readable summary."""
    groups = by_model(metrics)
    names = sorted((m for m in groups if m != SERVER), key=str.lower)
    if model is not None:
        names = [model] if model in groups else []
    elif SERVER in groups:
        names.append(SERVER)
    lines = []
    for name in names:
        rows = sorted(groups[name], key=lambda row: (row[0].name.lower(), row[1]))
        width = max(len(m.name + shown) for m, shown, _, _ in rows)
        kind = max(len(m.type) for m, *_ in rows)
        lines.append(name)
        for metric, shown, value, text in rows:
            lines.append(f"  {metric.name + shown:<{width}}  {metric.type:<{kind}}  {text}"
                         + mean_per_request(rows, metric, shown, value))
    return lines
