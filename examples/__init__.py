"""Each model family's example requests for the tools, checks and tests: examples/<family>.py.

A family's module says what only the family knows: good and bad requests drawn
from its test split, how close a served answer must be to the in-process one,
how its formats are compared, its batch settings to compare. harness.examples
finds it by the family's name, so adding a family edits no list.
"""
