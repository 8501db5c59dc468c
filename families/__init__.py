"""What each model family says about itself to the tools, checks and tests: families/<family>.py.

A family's module says what only the family knows: good and bad requests drawn
from its test split, how close a served answer must be to the in-process one,
how its formats are compared, its batch settings, its v1 and v2 examples, which
checks are about it. harness.examples finds it by the family's name (the list
of what it may hold is there), so adding a family edits no list.
"""
