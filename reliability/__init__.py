"""Reliability checks against a real TorchServe: load, soak, worker crash, upgrade, overload.

Each check is a script, `python -m reliability.<check>`, that prints its
figures and writes them into docs/reliability.md with the command that
reproduces them.
"""
