"""The handlers as they were before issue 15 ("make the handlers' own work fast"), frozen:
bench.handler_speed times them beside the current ones, and the tests hold the current ones to
their answers. pipeline.py is the shared pipeline as it was; `handlers_before.<family>.HANDLER`
is the family's current handler class with that pipeline and its own old steps put back. A family
with no module here (one added since) is timed with its current steps on the old pipeline."""

import importlib

from bench.handlers_before.pipeline import PipelineBefore
from handlers import handler_class as current_class


def handler_class(family: str) -> type:
    """Family name → its handler class as it was before issue 15: `HANDLER` in
    bench/handlers_before/<family>.py, or, for a family whose own steps did not change there (one
    added since), its current class on the old shared pipeline. The worker of an archive built
    with archive.sh --handler-classes bench.handlers_before builds its handler from this."""
    try:
        return importlib.import_module(f"{__name__}.{family}").HANDLER
    except ModuleNotFoundError:
        current = current_class(family)
        return type(f"{current.__name__}Before", (PipelineBefore, current), {})
