"""The pipeline's metrics → TorchServe's metrics store: the recorder the TorchServe adapter installs.

A file of its own beside torchserve_handler.py because TorchServe loads the
handler file's one and only class as the entry point.
"""

from ts.metrics.metric_cache_errors import MetricsCacheKeyError
from ts.metrics.metric_type_enum import MetricTypes

from handlers.metrics import (BATCH_SIZE_METRIC, DEFAULT_REASON, INVALID_METRIC, NO_METRICS,
                              REASONS, STEP_METRICS, MetricsRecorder)

MODEL_LEVEL = "Model"


class TorchServeMetrics(MetricsRecorder):
    """Records into TorchServe's metrics store (context.metrics), by model name.

    The worker prints each value as a [METRICS] line, and the frontend adds it
    to the Prometheus metric of that name in metrics.yaml (a name missing there
    is dropped). Values go to the store's metric objects directly, not through
    its add_time/add_metric helpers: those append every request id of the
    batch to each line (about 1.2 KB for a batch of 32), which Prometheus
    ignores but the frontend must read and match line by line; a line is about
    150 bytes without them. The
    dimensions follow the order metrics.yaml gives each metric (ModelName,
    Level, then Reason here); the frontend appends Hostname itself.
    """

    def __init__(self, store, model_name):
        self.store = store
        self.model_name = model_name

    def record(self, name, value, unit, metric_type, reason=None):
        """One value of the metric `name` → one [METRICS] line with this model's dimensions."""
        try:
            metric = self.store.get_metric(name, metric_type)
        except MetricsCacheKeyError:  # a metrics.yaml without it: the frontend will drop it
            names = ["ModelName", "Level"] + (["Reason"] if reason is not None else [])
            metric = self.store.add_metric_to_cache(name, unit, names, metric_type)
        known = {"ModelName": self.model_name, "Level": MODEL_LEVEL, "Reason": reason}
        metric.add_or_update(value, [known.get(dimension) for dimension in metric.dimension_names])

    def record_time(self, step, seconds):
        self.record(STEP_METRICS[step], seconds, "s", MetricTypes.HISTOGRAM)

    def record_batch(self, rows):
        self.record(BATCH_SIZE_METRIC, rows, "count", MetricTypes.HISTOGRAM)

    def count_invalid(self, reason):
        reason = reason if reason in REASONS else DEFAULT_REASON  # labels stay few
        self.record(INVALID_METRIC, 1, "count", MetricTypes.COUNTER, reason)


def metrics_recorder(context) -> MetricsRecorder:
    """TorchServe context → a recorder over its metrics store (one that records nothing without)."""
    store = getattr(context, "metrics", None)
    return TorchServeMetrics(store, context.model_name) if store is not None else NO_METRICS
