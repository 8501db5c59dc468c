"""Serving code for every model family, and the TorchServe adapter over it."""

import importlib


def handler_class(family: str) -> type:
    """Family name → its ModelHandler subclass: `HANDLER` in handlers/<family>.py."""
    module = importlib.import_module(f"handlers.{family}")
    return module.HANDLER
