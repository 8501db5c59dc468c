"""The pipeline's metrics → TorchServe's metrics store: the recorder the TorchServe adapter installs.

A file of its own beside torchserve_handler.py because TorchServe loads the
handler file's one and only class as the entry point.
"""

from ts.metrics.dimension import Dimension
from ts.metrics.metric_type_enum import MetricTypes

from handlers.metrics import (BATCH_SIZE_METRIC, DEFAULT_REASON, INVALID_METRIC, NO_METRICS,
                              REASONS, STEP_METRICS, MetricsRecorder)


class TorchServeMetrics(MetricsRecorder):
    """Records into TorchServe's metrics store (context.metrics), by model name.

    The worker prints each value as a [METRICS] line, and the frontend adds it
    to the Prometheus metric of that name in metrics.yaml (a name missing there
    is dropped). The frontend reads label values in the order sent, under the
    names metrics.yaml lists, so the dimensions follow that order: ModelName,
    Level, then Reason; it appends Hostname itself.
    """

    def __init__(self, store, model_name):
        self.store = store
        self.model_name = model_name

    def dimensions(self, *extra) -> list:
        """Extra Dimensions → this model's dimensions in metrics.yaml's order."""
        # A fresh list each call: the store appends its defaults to the list it is given.
        return [Dimension("ModelName", self.model_name), Dimension("Level", "Model"), *extra]

    def record_time(self, step, seconds):
        self.store.add_time(STEP_METRICS[step], seconds, unit="s", dimensions=self.dimensions(),
                            metric_type=MetricTypes.HISTOGRAM)

    def record_batch(self, rows):
        self.store.add_metric(BATCH_SIZE_METRIC, rows, "count", dimensions=self.dimensions(),
                              metric_type=MetricTypes.HISTOGRAM)

    def count_invalid(self, reason):
        reason = reason if reason in REASONS else DEFAULT_REASON  # labels stay few
        self.store.add_counter(INVALID_METRIC, 1,
                               dimensions=self.dimensions(Dimension("Reason", reason)))


def metrics_recorder(context) -> MetricsRecorder:
    """TorchServe context → a recorder over its metrics store (one that records nothing without)."""
    store = getattr(context, "metrics", None)
    return TorchServeMetrics(store, context.model_name) if store is not None else NO_METRICS
