"""Serving code for every model family, and the TorchServe adapter over it."""

from handlers.digits_cnn import DigitsCNNHandler

# Checkpoint family → the handler that serves it.
HANDLERS = {handler.family: handler for handler in (DigitsCNNHandler,)}
