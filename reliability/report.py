"""Figures → the terminal and their own section of docs/reliability.md, with the command that reproduces them."""

import argparse
import os
import re
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

from harness.load import percentile

DOC = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"


class CheckParser(argparse.ArgumentParser):
    """A check's command line: with --dry-run, each numeric option that has a dry-run value takes it."""

    def __init__(self, description, dry_run_values):
        super().__init__(description=description)
        self.dry_run_values = dry_run_values

    def parse_args(self, args=None, namespace=None):
        parsed = super().parse_args(args, namespace)
        if parsed.dry_run:
            for name, value in self.dry_run_values.items():
                setattr(parsed, name, value)
        return parsed


def check_arguments(doc, concurrency=None, **numbers) -> CheckParser:
    """A check's docstring, its default requests in flight (None: it takes no --concurrency) and
    its numeric options, name=(default, value in a dry run or None to keep it, what it sets)
    (--idle-seconds for idle_seconds; typed as the default is) → its parser."""
    if concurrency is not None:
        numbers = {"concurrency": (concurrency, None, "requests in flight"), **numbers}
    dry_run_values = {name: dry for name, (_, dry, _) in numbers.items() if dry is not None}
    parser = CheckParser(doc.split("\n")[0], dry_run_values)
    for name, (default, _, what) in numbers.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default,
                            help=f"{what} (default {default:g})")
    short = ", ".join(f"--{name.replace('_', '-')} {value:g}"
                      for name, value in dry_run_values.items())
    parser.add_argument("--dry-run", action="store_true",
                        help=f"a short run ({short}), figures not written to docs/reliability.md")
    return parser


def machine() -> str:
    """This machine in a few words: cores and the current load average (figures depend on both)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{cores} CPU cores, load average {load} (1, 5, 15 min)"


def command() -> str:
    """The command line that ran this script, as a user would type it."""
    module = Path(sys.argv[0]).with_suffix("").name
    return shlex.join([".venv/bin/python", "-m", f"reliability.{module}", *sys.argv[1:]])


def ms(seconds) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def latency_table(outcomes, elapsed) -> list:
    """Outcomes and the seconds they took → Markdown rows: count, errors, throughput, p50, p99, max per model."""
    rows = ["| model | requests | wrong or failed | requests/s | p50 | p99 | max |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    models = sorted({o.call.model for o in outcomes})
    for name, group in [(m, [o for o in outcomes if o.call.model == m]) for m in models] + [
            ("**all**", outcomes)]:
        latencies = [o.seconds for o in group]
        rows.append(f"| {name} | {len(group):,} | {sum(not o.ok for o in group)} | "
                    f"{len(group) / elapsed:,.0f} | {ms(percentile(latencies, 0.5))} | "
                    f"{ms(percentile(latencies, 0.99))} | {ms(max(latencies, default=0))} |")
    return rows


def publish(section, lines, started_on, write=True):
    """Print the figures; with `write`, put them in docs/reliability.md between this section's markers.

    `started_on` is machine() from before the run, so the load average the
    run itself caused is not mistaken for the machine's.
    """
    when = f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
    body = [f"Measured {when} on {started_on} before the run, with:", "",
            "```sh", command(), "```", "", *lines]
    print("\n".join(body))
    if not write:
        return
    begin, end = f"<!-- figures: {section} -->", f"<!-- /figures: {section} -->"
    block = "\n".join([begin, *body, end])
    text = DOC.read_text() if DOC.exists() else "# Reliability\n"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else f"{text}\n{block}\n"
    DOC.write_text(text)
    print(f"\n(written to {DOC.relative_to(DOC.parent.parent)}, section '{section}')")
