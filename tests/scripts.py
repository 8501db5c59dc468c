"""Training scripts run in this process, as `python -m training.<family> FLAGS` runs them:
a process each cost 3-5 s of imports, and the digits pictures a dry run evaluates on are
drawn once per process, so run here the quality tests and the dry run share them."""

import contextlib
import importlib
import io
import re


def run_training(family, *flags) -> str:
    """Family and command-line flags → what its training script printed; a flag the script
    refuses raises SystemExit, as on the command line."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        importlib.import_module(f"training.{family}").main([str(flag) for flag in flags])
    return printed.getvalue()


def own_flags(family) -> list:
    """Family → the long flags its training script's --help lists."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.suppress(SystemExit):
        importlib.import_module(f"training.{family}").parse_args(["--help"])
    return sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", printed.getvalue())))
