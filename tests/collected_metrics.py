"""A metrics recorder that keeps what a handler's pipeline reports, for the metrics tests."""

from handlers.metrics import MetricsRecorder


class Collected(MetricsRecorder):
    """A recorder that keeps what the pipeline reports, for assertions."""

    def __init__(self):
        self.times, self.batches, self.invalid = [], [], []

    def record_time(self, step, seconds):
        self.times.append((step, seconds))

    def record_batch(self, rows):
        self.batches.append(rows)

    def count_invalid(self, reason):
        self.invalid.append(reason)
