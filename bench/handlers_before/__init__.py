"""Each family's handler steps as they were before issue 15 ("make the handlers' own work fast"),
frozen: bench.handler_speed times them beside the current ones, and the tests hold the current
ones to their answers. `handlers_before.<family>.HANDLER` is the current handler class with the
old steps put back; a family whose handler did not change has no module here."""
