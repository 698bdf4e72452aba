"""Experiments only: patched copies of runtime code paths, to see where the time goes.

Nothing here is used unless ``BENCH_VARIANT`` is set (``throughput.py
--variant``); the figures of a normal run are the runtime's own code. The
patches are applied when ``bench_app`` is imported, i.e. in the worker's
master process before Dramatiq forks its worker processes.

Variants (comma-separated):

``no-ping``        the engine without ``pool_pre_ping`` (one round trip less
                   per connection checkout).
``one-statement``  ``RunControl.arrive`` as one autocommit statement (insert
                   the arrival and bump the barrier in one CTE), firing in a
                   second transaction: the barrier row lock is held only
                   inside the server, not across Python round trips and the
                   worker's GIL waits. A duplicate arrival re-checks the
                   barrier and fires it if it is complete and unfired, so a
                   worker dying between the two transactions is recovered by
                   the redelivery. (A sketch of a fix, not reviewed code.)
``fast-counters``  the ledger writer's ``counter_rows`` computing each label
                   set's JSON once per batch instead of ~16 ``json.dumps``
                   per finished event (the histogram buckets).
``no-barrier``     ``RunControl.arrive`` does nothing: the run never ends, the
                   benchmark waits for the ledger instead. An upper bound for
                   the ledger middleware alone.
"""

from __future__ import annotations

import os

from sqlalchemy import text

VARIANTS = {"no-ping", "one-statement", "no-barrier", "fast-counters"}


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
    if "one-statement" in chosen:
        from wrls_actors.runtime import runs

        runs.RunControl.arrive = _arrive_one_statement
    if "fast-counters" in chosen:
        from wrls_actors.runtime import ledger_writer

        ledger_writer.counter_rows = _counter_rows
    if "no-barrier" in chosen:
        from wrls_actors.runtime import runs

        runs.RunControl.arrive = lambda self, *args, **kwargs: None
    return chosen


ARRIVE = text(
    "WITH a AS (INSERT INTO jobs.barrier_arrivals (run_id, step_index, message_id, failed) "
    "           VALUES (:run_id, :index, :message_id, :failed) ON CONFLICT DO NOTHING RETURNING 1) "
    "UPDATE jobs.barriers SET arrived = arrived + 1, failed = failed + :f, "
    "  counts = CASE WHEN CAST(:counts AS jsonb) = '{}'::jsonb THEN counts "
    "                ELSE jobs.jsonb_add(counts, CAST(:counts AS jsonb)) END "
    "WHERE run_id = :run_id AND step_index = :index AND EXISTS (SELECT 1 FROM a) "
    "RETURNING arrived, expected, failed, fired_at"
)


def _arrive_one_statement(self, run_id, index, message_id, *, failed, counts=None):
    from wrls_actors.runtime.runs import _counts_json

    params = {"run_id": run_id, "index": index, "message_id": message_id, "failed": failed, "f": int(failed),
              "counts": _counts_json(counts)}
    with self.engine.connect() as connection:
        barrier = connection.execution_options(isolation_level="AUTOCOMMIT").execute(ARRIVE, params).first()
        if barrier is None:  # a duplicate arrival (or no barrier): is it complete and unfired?
            barrier = connection.execute(
                text("SELECT arrived, expected, failed, fired_at FROM jobs.barriers "
                     "WHERE run_id = :run_id AND step_index = :index"), params).first()
            if barrier is None:
                raise LookupError(f"no barrier for run {run_id} step {index}")
    if barrier.arrived >= barrier.expected and barrier.fired_at is None:
        with self.engine.connect() as connection:
            job_name = connection.execute(text("SELECT job FROM jobs.runs WHERE run_id = :run_id"),
                                          {"run_id": run_id}).scalar_one()
            self._fire(connection, self.jobs[job_name], run_id, index, barrier.failed, barrier.expected)
            connection.commit()


def _counter_rows(events):
    """Same rows as ledger_writer.counter_rows, each label set serialised once."""
    from collections import Counter

    from wrls_actors.runtime.database import labels_json
    from wrls_actors.runtime.ledger_writer import DURATION_BUCKETS_S, ENDED

    totals: Counter = Counter()
    for e in events:
        key = (e.actor, e.queue)
        if e.counted:
            totals[("steps_total", key, ("outcome", e.counted))] += 1
        if e.timeouts:
            totals[("steps_timed_out_total", key, None)] += e.timeouts
        if e.rank == ENDED and e.duration_ms is not None:
            seconds = e.duration_ms / 1000
            totals[("step_duration_seconds_sum", key, None)] += seconds
            totals[("step_duration_seconds_count", key, None)] += 1
            for bound in DURATION_BUCKETS_S:
                if seconds <= bound:
                    totals[("step_duration_seconds_bucket", key, ("le", str(bound)))] += 1
    rows = []
    for (name, (actor, queue), extra), value in totals.items():
        labels = {"actor": actor, "queue": queue}
        if extra:
            labels[extra[0]] = extra[1]
        rows.append((name, labels_json(labels), value))
    return rows
