"""Experiments only: patched copies of runtime code paths, to see where the time goes.

Nothing here is used unless ``BENCH_VARIANT`` is set (``throughput.py
--variant``); the figures of a normal run are the runtime's own code. The
patches are applied when ``bench_app`` is imported, i.e. in the worker's
master process before Dramatiq forks its worker processes. They lean on
``RunControl`` internals and refuse to start if those are not there.

Variants (comma-separated):

``no-ping``             the engine without ``pool_pre_ping`` (one round trip
                        less per connection checkout).
``autocommit-arrival``  ``RunControl.arrive`` runs its arrival statement in
                        autocommit mode: the barrier row lock is then released
                        by the server at the end of the statement, instead of
                        staying held until Python's separate COMMIT round trip
                        (which, with 16 threads on 2 CPUs, includes waiting
                        for the GIL). Firing is unchanged.
``no-barrier``          ``RunControl.arrive`` does nothing: the run never
                        ends, the benchmark waits for the ledger instead. An
                        upper bound for everything but the fan-in.
"""

from __future__ import annotations

import os

from sqlalchemy import text

VARIANTS = {"no-ping", "autocommit-arrival", "no-barrier"}


def active() -> set[str]:
    chosen = set(filter(None, os.environ.get("BENCH_VARIANT", "").split(",")))
    unknown = chosen - VARIANTS
    if unknown:
        raise SystemExit(f"unknown BENCH_VARIANT {', '.join(sorted(unknown))}; known: {', '.join(sorted(VARIANTS))}")
    return chosen


def apply() -> set[str]:
    chosen = active()
    if "no-ping" in chosen:
        from wrls_actors.runtime import database

        original = database.create_engine

        def create_engine(*args, **kwargs):
            kwargs["pool_pre_ping"] = False
            return original(*args, **kwargs)

        database.create_engine = create_engine
    if "autocommit-arrival" in chosen:
        from wrls_actors.runtime import runs

        missing = [n for n in ("_job_of", "_fire_if_complete") if not hasattr(runs.RunControl, n)]
        if missing:
            raise SystemExit(f"variant autocommit-arrival: RunControl has no {', '.join(missing)} any more")
        runs.RunControl.arrive = _arrive_autocommit
    if "no-barrier" in chosen:
        from wrls_actors.runtime import runs

        runs.RunControl.arrive = lambda self, *args, **kwargs: None
    return chosen


ARRIVE = text(
    "WITH arrival AS ("
    "  INSERT INTO jobs.barrier_arrivals (run_id, step_index, message_id, failed) "
    "  VALUES (:run_id, :index, :message_id, :failed) ON CONFLICT DO NOTHING RETURNING 1) "
    "UPDATE jobs.barriers SET arrived = arrived + 1, failed = failed + :f, "
    "counts = CASE WHEN CAST(:counts AS jsonb) = '{}'::jsonb THEN counts "
    "              ELSE jobs.jsonb_add(counts, CAST(:counts AS jsonb)) END "
    "WHERE run_id = :run_id AND step_index = :index AND EXISTS (SELECT 1 FROM arrival) "
    "RETURNING arrived, expected"
)


def _arrive_autocommit(self, run_id, index, message_id, *, failed, counts=None):
    """runs.RunControl.arrive (as of 34454dd) with the statement in autocommit mode."""
    from wrls_actors.runtime.runs import _counts_json

    with self.engine.connect() as connection:
        barrier = connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            ARRIVE,
            {"run_id": run_id, "index": index, "message_id": message_id, "failed": failed, "f": int(failed),
             "counts": _counts_json(counts)},
        ).first()
    if barrier is not None and barrier.arrived < barrier.expected:
        return
    job_name = self._job_of(run_id)
    if job_name is not None:
        self._fire_if_complete(self.jobs[job_name], run_id, index)
