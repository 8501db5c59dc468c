"""TorchServe's Prometheus text → samples, and samples → a summary grouped by model.

TorchServe writes the text exposition format (with a trailing comma in each
label set). No Prometheus library is installed, so this reads the format
itself: `# HELP`, `# TYPE` and sample lines, label values with their escapes.
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
SHORT_UNITS = {"Microseconds": "µs", "Milliseconds": "ms", "Megabytes": "MB", "Gigabytes": "GB",
               "Percent": "%", "Count": ""}


@dataclass
class Metric:
    """One metric family: its help text, type and samples (labels → value)."""

    name: str
    help: str = ""
    type: str = "untyped"
    samples: list = field(default_factory=list)

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
        metrics.setdefault(name, Metric(name)).samples.append(sample)
    return metrics


def model_of(labels: dict) -> str:
    return next((labels[key] for key in MODEL_LABELS if labels.get(key)), SERVER)


def shown_labels(labels: dict) -> str:
    """A sample's labels → the ones worth printing, as {a="1"}: no host, no model, no default version."""
    kept = {k: v for k, v in labels.items()
            if k not in QUIET_LABELS
            and not (k in ("model_version", "ModelVersion") and v in ("default", ""))}
    return "{" + ",".join(f'{k}="{v}"' for k, v in kept.items()) + "}" if kept else ""


def by_model(metrics: dict) -> dict:
    """{name: Metric} → {model: [(metric, labels shown, value), ...]}, samples without a model under SERVER."""
    groups = defaultdict(list)
    for metric in metrics.values():
        for labels, value in metric.samples:
            groups[model_of(labels)].append((metric, shown_labels(labels), value))
    return groups


def number(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value.is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) >= 0.01 else f"{value:.3g}"


def mean_per_request(rows, metric, labels, value) -> str:
    """For TorchServe's latency counters (µs summed over requests): the mean per request, in ms."""
    if not metric.name.endswith("_latency_microseconds"):
        return ""
    count = next((v for m, shown, v in rows
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
        width = max(len(m.name + shown) for m, shown, _ in rows)
        lines.append(name)
        for metric, shown, value in rows:
            unit = SHORT_UNITS.get(metric.unit, metric.unit)
            unit = f" {unit}" if unit else ""
            lines.append(f"  {metric.name + shown:<{width}}  {metric.type:<7}  {number(value)}{unit}"
                         + mean_per_request(rows, metric, shown, value))
    return lines
