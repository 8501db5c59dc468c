"""A command-line client for the project's TorchServe: predict, status, scale, versions, metrics.

    python -m client predict digits_cnn samples/digit_3.png
    python -m client --help
"""
