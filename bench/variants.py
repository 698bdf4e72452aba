"""Experiments only: patched runtime code paths, to see where the time goes.

Nothing here is used unless ``BENCH_VARIANT`` is set (``throughput.py
--variant``); the figures of a normal run are the runtime's own code. The
patches are applied when ``bench_app`` is imported, i.e. in the worker's
master process before Dramatiq forks its worker processes.

Variants (comma-separated):

``no-barrier``  ``RunControl.arrive`` does nothing: the run never ends, the
                benchmark waits for the ledger instead. An upper bound for
                everything but the fan-in.
``no-start-check``  ``StartChecks`` lets every message run unchecked and
                records no start (no round trip before the work).
``no-signatures``  ``Signatures`` checks no message.

Each removes a part the runtime needs: a variant's figure is what that part
costs, not a configuration to run.
"""

from __future__ import annotations

import os

VARIANTS = {"no-barrier", "no-start-check", "no-signatures"}


def active() -> set[str]:
    chosen = set(filter(None, os.environ.get("BENCH_VARIANT", "").split(",")))
    unknown = chosen - VARIANTS
    if unknown:
        raise SystemExit(f"unknown BENCH_VARIANT {', '.join(sorted(unknown))}; known: {', '.join(sorted(VARIANTS))}")
    return chosen


def apply() -> set[str]:
    chosen = active()
    if "no-barrier" in chosen:
        from wrls_actors.runtime import runs

        runs.RunControl.arrive = lambda self, *args, **kwargs: None
    if "no-start-check" in chosen:
        from wrls_actors.runtime import start_checks

        start_checks.StartChecks.before_process_message = lambda self, broker, message: None
    if "no-signatures" in chosen:
        from wrls_actors.runtime import signing

        signing.Signatures.before_process_message = lambda self, broker, message: None
    return chosen
