"""Load: many mixed requests over every model at a fixed concurrency; every answer must be the in-process one.

    python -m reliability.load                  # 10,000 requests at concurrency 32, 5% bad input
    python -m reliability.load --dry-run        # 400 requests, figures not written to the docs

Serves every model from a private TorchServe (production settings, free
ports) and checks each answer against the same checkpoint run through the
same handler class here. Exit status 0 only when every request got its one
expected answer.
"""

import re

import requests

from harness.examples import mixed_calls
from harness.load import Load
from harness.settings import model_families
from harness.torchserve import private_server
from harness.torchserve import HTTP_TIMEOUT
from reliability.report import check_arguments, latency_table, machine, publish

WARM_UP_CALLS = 200  # first requests load lazy code paths in every worker; not counted


def served_counts(server) -> dict:
    """The frontend's own count of inference requests per model (Prometheus ts_inference_requests_total)."""
    text = requests.get(f"{server.metrics_url}/metrics", timeout=HTTP_TIMEOUT).text
    counts = {}
    pattern = r'^ts_inference_requests_total\{model_name="([^"]+)".*\} ([0-9.e+]+)$'
    for model, value in re.findall(pattern, text, re.MULTILINE):
        counts[model] = counts.get(model, 0) + int(float(value))
    return counts


def main():
    parser = check_arguments(__doc__, concurrency=32,
                             requests=(10_000, 400, "requests to send"),
                             bad_share=(0.05, None, "share of bad requests, each expecting its 400"))
    parser.add_argument("--models", default=",".join(model_families()),
                        help="comma-separated (default: all)")
    args = parser.parse_args()
    total = args.requests
    models = args.models.split(",")

    started_on = machine()
    calls = mixed_calls(models, total + WARM_UP_CALLS, args.bad_share)
    warm_up, calls = calls[:WARM_UP_CALLS], calls[WARM_UP_CALLS:]
    with private_server(models) as server:
        Load(server, warm_up, concurrency=4).run()
        before = served_counts(server)
        load = Load(server, calls, args.concurrency)
        outcomes = load.run()
        counted = {m: served_counts(server).get(m, 0) - before.get(m, 0) for m in models}

    sent = {m: sum(c.model == m for c in calls) for m in models}
    wrong = [o for o in outcomes if not o.ok]
    bad = sum(o.call.status != 200 for o in outcomes)
    lines = [
        (f"{len(calls):,} requests ({bad:,} of them bad input expecting their 400) over "
         f"{', '.join(models)} at concurrency {args.concurrency}: {len(outcomes):,} answers, "
         f"{sum(o.status is None for o in outcomes)} without an answer, "
         f"{len(wrong)} wrong or failed; "
         f"{load.elapsed:.1f} s, {len(outcomes) / load.elapsed:,.0f} requests/s."),
        "",
        "The frontend counted (ts_inference_requests_total): "
        + ", ".join(f"{m} {counted[m]:,} of {sent[m]:,} sent" for m in models) + ".",
        "",
        *latency_table(outcomes, load.elapsed),
    ]
    lines += [f"- {o.call.model}: {o.problem} {o.message}" for o in wrong[:10]]
    publish("load", lines, started_on, write=not args.dry_run)
    return 0 if len(outcomes) == len(calls) and not wrong and counted == sent else 1


if __name__ == "__main__":
    raise SystemExit(main())
