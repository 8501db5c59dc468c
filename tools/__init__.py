"""Command-line tools around a running TorchServe: start/stop, keys."""
