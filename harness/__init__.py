"""What every tool above the handlers stands on: model-config and archives, a private TorchServe
that always stops, one client with one error type, one load generator, example requests.

tools/, bench/, reliability/, client/ and tests/ import from here; nothing here imports them.
"""
