"""Overload: a burst far above capacity against a small job queue; the requests that do not fit get a fast 503.

    python -m reliability.overload              # queue of 4, one worker, 64 clients for 10 s
    python -m reliability.overload --dry-run    # 32 clients for 2 s, figures not written

The slow request is the family's slowest_body() (families/<family>.py): for
digits_cnn the largest picture it accepts, a 4000×4000 PNG, about 0.15 s of one
worker's time. Exit status 0 only when some requests
were refused with 503, every refusal came back within FAST_S, every request
got an answer, every 200 was the in-process answer, and the server answered
normally after the burst.
"""

import itertools
from pathlib import Path

from handlers import handler_class
from harness.examples import expect, hook, subject
from harness.load import Call, Load, percentile
from harness.settings import CHECKPOINTS
from harness.torchserve import private_server
from models.checkpoint import load_checkpoint
from reliability.report import check_arguments, machine, ms, publish

MODEL = subject("overload")
FAST_S = 1.0  # a refusal slower than this is no better than a hang to a client with a timeout


def slow_call(checkpoints=CHECKPOINTS) -> Call:
    """→ the slowest good call of the overload check's family, with its in-process answer."""
    handler = handler_class(MODEL)(load_checkpoint(Path(checkpoints) / MODEL / "model.pt"))
    [call] = expect(handler, MODEL, [hook(MODEL, "slowest_body")()])
    return call


def burst(server, call, clients, seconds) -> list:
    """`clients` sending `call` over and over for `seconds` → the outcomes."""
    return Load(server, itertools.repeat(call), concurrency=clients, seconds=seconds).run()


def verdict(outcomes) -> dict:
    """Burst outcomes → the figures that decide: refused, served, wrong, unanswered, refusal times."""
    refused = [o for o in outcomes if o.status == 503]
    served = [o for o in outcomes if o.status != 503]
    return {
        "refused": refused,
        "served": served,
        "wrong": [o for o in served if not o.ok],
        "unanswered": [o for o in outcomes if o.status is None],
        "median_refusal": percentile([o.seconds for o in refused], 0.5),
        "slowest_refusal": max((o.seconds for o in refused), default=0.0),
    }


def main():
    parser = check_arguments(__doc__, queue=(4, None, "job_queue_size for the server"),
                             clients=(64, 32, "requests in flight"),
                             seconds=(10.0, 2.0, "how long the burst lasts"))
    args = parser.parse_args()

    started_on = machine()
    call = slow_call()
    with private_server([MODEL], job_queue_size=args.queue) as server:
        outcomes = burst(server, call, args.clients, args.seconds)
        after = Load(server, [call] * 3, concurrency=1).run()

    found = verdict(outcomes)
    refused, served = found["refused"], found["served"]
    lines = [
        (f"{MODEL}, 1 worker, job_queue_size={args.queue}; {args.clients} clients sending "
         f"{hook(MODEL, 'SLOWEST_WORDS', 'its slowest requests')} for {args.seconds:g} s, "
         f"{len(outcomes):,} requests:"),
        "",
        "| answer | requests | p50 | p99 | max |",
        "|---|---:|---:|---:|---:|",
        *[f"| {name} | {len(group):,} | {ms(percentile([o.seconds for o in group], 0.5))} | "
          f"{ms(percentile([o.seconds for o in group], 0.99))} | "
          f"{ms(max((o.seconds for o in group), default=0))} |"
          for name, group in (("503, refused", refused), ("served", served))],
        "",
        (f"- served answers that differ from in-process: {len(found['wrong'])}; requests without "
         f"an answer (timeout, connection error): {len(found['unanswered'])}"),
        f"- after the burst: {sum(o.ok for o in after)} of {len(after)} requests served correctly",
    ]
    if refused:
        lines += ["", f"The 503 body: `{' '.join(refused[0].message.split())}`"]
    publish("overload", lines, started_on, write=not args.dry_run)
    healthy = (refused and found["slowest_refusal"] < FAST_S and not found["wrong"]
               and not found["unanswered"] and all(o.ok for o in after))
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
