"""The benchmark's application for the runtime: one job that fans out no-op children.

``bench-fan``: ``prepare`` returns ``range(n)`` (``n`` from the run's params),
so the runtime publishes ``n`` ``each`` children (each one a step message
through the ledger middleware and the PostgreSQL barrier), then ``finish``
runs once every child has arrived. The children have their own queue so the
benchmark can publish them with a worker on ``bench`` only and process them
later with a fresh worker (see ``throughput.py``).

Used as ``--app bench_app:service`` with ``bench/`` on ``PYTHONPATH``.
"""

from __future__ import annotations

from variants import apply as _apply_variants

from wrls_actors.runtime import Job, Param, Service, Settings, Step

VARIANT = _apply_variants()  # experiments only (throughput.py --variant); empty by default

JOB = "bench-fan"
QUEUE = "bench"
CHILD_QUEUE = "bench-children"


def prepare(ctx):
    return range(int(ctx.params["n"]))


def noop(ctx):
    return None


JOBS = (
    Job(
        JOB,
        (
            Step("prepare", prepare, fan_out=Step("each", noop, queue=CHILD_QUEUE)),
            Step("finish", noop),
        ),
        queue=QUEUE,
        params=(Param("n", int, required=True, help="how many children"),),
    ),
)

_service: Service | None = None


def service() -> Service:
    global _service
    if _service is None:
        _service = Service(Settings.from_env("WRLS"), JOBS, ())
    return _service
