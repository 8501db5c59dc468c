"""The handlers as they were before issue 15 ("make the handlers' own work fast"), frozen:
bench.handler_speed times them beside the current ones, and the tests hold the current ones to
their answers. pipeline.py is the shared pipeline as it was; `handlers_before.<family>.HANDLER`
is the family's current handler class with that pipeline and its own old steps put back. A family
with no module here (one added since) is timed with its current steps on the old pipeline."""
