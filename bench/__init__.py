"""The performance benchmark behind `make bench`: compute limit, server limit, served figures and a peer.

    python -m bench            # the full run: bench/results/<timestamp>.json, docs/performance.md, plots
    python -m bench --quick    # tiny durations, a few points: checks the harness, not the speed
"""
