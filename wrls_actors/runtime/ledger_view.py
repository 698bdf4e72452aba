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
class EventCount:
    """How many events of one kind one job had in a window, and when the first and last were."""

    job: str | None
    kind: str
    count: int
    first: datetime
    last: datetime


_RUN_COLUMNS = ("run_id::text AS run_id, job, status, step_index, nominal_time, started_at, "
                "extract(epoch FROM clock_timestamp() - started_at) AS age_s")

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


def _run(row: Any) -> RunInfo:
    return RunInfo(row.run_id, row.job, row.status, row.step_index, row.nominal_time, row.started_at,
                   float(row.age_s))


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

    def event_counts(self, start: datetime, end: datetime, kinds: Iterable[str]) -> list[EventCount]:
        """Events of these kinds in ``[start, end)``, counted per job and kind."""
        with self.engine.connect() as connection:
            rows = connection.execute(_EVENTS, {"start": start, "end": end, "kinds": list(kinds)}).all()
        # Not "AS count": r.count is the tuple method, to a type checker.
        return [EventCount(r.job, r.kind, r.n, r.first, r.last) for r in rows]
