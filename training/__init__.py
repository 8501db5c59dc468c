"""Data preparation, training and evaluation for every model family."""
