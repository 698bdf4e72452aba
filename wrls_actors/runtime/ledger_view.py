"""The ledger, read: what a job may know of runs, ticks and events, as plain data.

Jobs never write SQL against the ledger's tables; these reads are the
contract, so the tables can change without touching a job.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, text


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """One run as the ledger has it; ``age_s`` is measured by the database's clock, now."""

    run_id: str
    job: str
    status: str
    step_index: int
    nominal_time: datetime | None
    started_at: datetime
    age_s: float


@dataclasses.dataclass(frozen=True)
class ChildInfo:
    """One fan-out child of a run: its position in the fanned-out items, and how it ended.

    ``status`` is ``succeeded``, ``failed`` (for good, after its retries) or
    ``pending`` (not ended yet). ``error`` is the failure as the ledger has it;
    it may still be ``None`` just after the failure, as step rows are written
    in batches. ``counts`` are what the child counted, if it succeeded.

    In a chunked fan-out (``Step(chunk=N)``) there is one ``ChildInfo`` per
    item: an item that failed alone has its own error, and ``counts`` are
    empty (a chunk counts for its items together; the fan-in sums them).

    ``started_at`` and ``duration_ms`` are its message's (a chunk's items share
    them), from its arrival: a child that succeeds at once keeps no step row.
    ``None`` for a child pending, failed for good by its retries, or arrived
    before arrivals carried them.
    """

    position: int
    status: str
    error: str | None
    counts: dict[str, Any]
    started_at: datetime | None = None
    duration_ms: float | None = None


@dataclasses.dataclass(frozen=True)
class EventCount:
    """How many events of one kind one job had in a window, and when the first and last were."""

    job: str | None
    kind: str
    count: int
    first: datetime
    last: datetime


_RUN_COLUMNS = (
    "run_id::text AS run_id, job, status, step_index, nominal_time, started_at, "
    "extract(epoch FROM clock_timestamp() - started_at) AS age_s"
)

_RUN = text(f"SELECT {_RUN_COLUMNS} FROM jobs.runs WHERE run_id = CAST(:run AS uuid)")

_RUNNING = text(f"""
    SELECT {_RUN_COLUMNS} FROM jobs.runs
    WHERE job = :job AND status = 'running' AND (CAST(:step AS int) IS NULL OR step_index = :step)
    ORDER BY started_at
""")

_TICK_CLAIMED = text("SELECT 1 FROM jobs.ticks WHERE schedule = :schedule AND nominal_time = :nominal")

_LAST_STARTED = text("""
    SELECT max(started_at) FROM jobs.runs
    WHERE job = :job AND (CAST(:status AS text) IS NULL OR status = :status) AND started_at < :before
""")

_EVENTS = text("""
    SELECT job, kind, count(*) AS n, min(at) AS first, max(at) AS last FROM jobs.events
    WHERE at >= :start AND at < :end AND kind = ANY(:kinds) GROUP BY job, kind ORDER BY job, kind
""")


_BARRIER = text("SELECT expected, chunk FROM jobs.barriers WHERE run_id = CAST(:run AS uuid) AND step_index = :index")

_ARRIVALS = text("""
    SELECT a.message_id, a.failed, a.counts, a.items, a.failures, a.started_at, a.duration_ms, coalesce(s.error, (
        SELECT e.detail FROM jobs.events e WHERE e.message_id = a.message_id ORDER BY e.id DESC LIMIT 1)) AS error
    FROM jobs.barrier_arrivals a LEFT JOIN jobs.steps s ON s.message_id = a.message_id
    WHERE a.run_id = CAST(:run AS uuid) AND a.step_index = :index
""")


def _run(row: Any) -> RunInfo:
    return RunInfo(row.run_id, row.job, row.status, row.step_index, row.nominal_time, row.started_at, float(row.age_s))


class LedgerView:
    """Reads of the ledger for jobs and tools; every call is one short read-only transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(self, run_id: UUID | str) -> RunInfo | None:
        with self.engine.connect() as connection:
            row = connection.execute(_RUN, {"run": str(run_id)}).first()
        return None if row is None else _run(row)

    def running(self, job: str, *, at_step: int | None = None) -> list[RunInfo]:
        """The job's running runs, oldest first; ``at_step``: only those at that step (0 is the first)."""
        with self.engine.connect() as connection:
            rows = connection.execute(_RUNNING, {"job": job, "step": at_step}).all()
        return [_run(r) for r in rows]

    def tick_claimed(self, schedule: str, nominal: datetime) -> bool:
        """Whether the scheduler has handled the schedule's tick of ``nominal`` (started, skipped or refused).

        The scheduler records a tick and the run it starts in one transaction:
        once a tick reads as claimed, its run is visible to the next read.
        """
        with self.engine.connect() as connection:
            return connection.execute(_TICK_CLAIMED, {"schedule": schedule, "nominal": nominal}).first() is not None

    def last_started(self, job: str, before: datetime, *, status: str | None = None) -> datetime | None:
        """When the job's latest run started before ``before``; ``status``: only runs that ended so."""
        with self.engine.connect() as connection:
            return connection.execute(_LAST_STARTED, {"job": job, "status": status, "before": before}).scalar()

    def children(self, run_id: UUID | str, step_index: int) -> list[ChildInfo]:
        """The fan-out children of step ``step_index`` (0 is the first) of a run, in the order of their items.

        Empty if that step has not fanned out. A child's position is its
        item's index in the list the step returned, so the step that fans out
        a fixed list can name each child from it.
        """
        from .child_ids import child_positions, messages_of

        with self.engine.connect() as connection:
            barrier = connection.execute(_BARRIER, {"run": str(run_id), "index": step_index}).first()
            if barrier is None:
                return []
            arrived = {
                r.message_id: r for r in connection.execute(_ARRIVALS, {"run": str(run_id), "index": step_index}).all()
            }
        expected, chunk = barrier.expected, barrier.chunk
        positions = child_positions(str(run_id), step_index, messages_of(expected, chunk), arrived)
        by_position = {p: arrived[m] for m, p in positions.items()}
        children = []
        for position in range(expected):
            row = by_position.get(position // chunk)
            if row is None:
                children.append(ChildInfo(position, "pending", None, {}))
                continue
            errors = {f.get("position"): f.get("error") for f in row.failures or ()}
            counts = dict(row.counts or {}) if chunk == 1 else {}
            times = (row.started_at, row.duration_ms)
            if row.failed:
                # The whole message failed: its own error, as its step row has it.
                children.append(ChildInfo(position, "failed", row.error or errors.get(position), counts, *times))
            elif position in errors:
                children.append(ChildInfo(position, "failed", errors[position], counts, *times))
            else:
                children.append(ChildInfo(position, "succeeded", None, counts, *times))
        return children

    def event_counts(self, start: datetime, end: datetime, kinds: Iterable[str]) -> list[EventCount]:
        """Events of these kinds in ``[start, end)``, counted per job and kind."""
        with self.engine.connect() as connection:
            rows = connection.execute(_EVENTS, {"start": start, "end": end, "kinds": list(kinds)}).all()
        # Not "AS count": r.count is the tuple method, to a type checker.
        return [EventCount(r.job, r.kind, r.n, r.first, r.last) for r in rows]
