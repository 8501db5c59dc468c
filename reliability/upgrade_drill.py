"""Upgrade drill: under load, upgrade digits_cnn 1.0 → 2.0 and roll back with reliability.upgrade; no request may fail.

    python -m reliability.upgrade_drill         # concurrency 16, 5 s of load around each step
    python -m reliability.upgrade_drill --dry-run

Runs on a private TorchServe with the model API on (enable_model_api=true).
Version 2.0 is an archive of the same checkpoint built by
`./archive.sh --version 2.0`, so every answer, from either version, must be
the in-process answer. Exit status 0 only when every request got it.
"""

import itertools
import tempfile
import time

from harness.archives import build_store
from harness.examples import calls_for, sample, subject
from harness.load import Load
from harness.torchserve import private_server
from reliability.report import check_arguments, latency_table, machine, publish
from reliability.upgrade import default_version, upgrade, versions

MODEL = subject("upgrade drill")


def main():
    parser = check_arguments(
        __doc__, concurrency=16,
        pause=(5.0, 1.0, "seconds of load before, between and after the two swaps"),
        drain=(3.0, None, "seconds the old version drains after its queue is empty, before it "
                          "is unregistered"))
    args = parser.parse_args()

    started_on = machine()
    good, _ = calls_for(MODEL)
    sample_path, content_type = sample(MODEL)
    steps = []
    with tempfile.TemporaryDirectory(prefix="reliability-v2-") as folder, \
            private_server([MODEL], enable_model_api="true") as server:
        new_archive = build_store(folder, [MODEL], version="2.0") / f"{MODEL}.mar"
        old_archive = server.model_store / f"{MODEL}.mar"
        load = Load(server, itertools.cycle(good), args.concurrency).start()
        try:
            for archive in (new_archive, old_archive):
                time.sleep(args.pause)
                timings = upgrade(server, archive, sample_path, content_type, args.drain,
                                  log=steps.append)
                served = [v["modelVersion"] for v in versions(server, MODEL)]
                steps.append(f"  versions registered now: {', '.join(served)}; default "
                             f"{default_version(server, MODEL)['modelVersion']}; steps at "
                             + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
            time.sleep(args.pause)
        finally:
            load.stop()
            outcomes = load.wait()

    wrong = [o for o in outcomes if not o.ok]
    lines = [
        (f"{MODEL} under load at concurrency {args.concurrency} for {load.elapsed:.0f} s: "
         f"{len(outcomes):,} requests, **{len(wrong)} failed or wrong**, "
         f"{sum(o.status is None for o in outcomes)} without an answer."),
        "",
        "```", *steps, "```",
        "",
        *latency_table(outcomes, load.elapsed),
    ]
    lines += [f"- {o.problem} {' '.join(o.message.split())}" for o in wrong[:10]]
    publish("upgrade", lines, started_on, write=not args.dry_run)
    return 0 if outcomes and not wrong else 1


if __name__ == "__main__":
    raise SystemExit(main())
