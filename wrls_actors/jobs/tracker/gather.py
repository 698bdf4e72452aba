"""What the tracker reads from the ledger: its window, and the troubles in it.

The legacy read pg-boss's ``job`` and ``archive`` tables for rows in state
``failed`` created or completed in the last 12 hours
(``src/lib/connectors/water-import/queries.js``, ``pgBossFailedJobs``). The
ledger's ``jobs.events`` holds every failure, time-out, stall, dead letter and
late, missed or duplicate tick with its time, so one grouped query over the
window answers it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text

from .report import KINDS, Problem, Window, report_window

JOB = "tracker"


def last_report(connection: Connection, before: datetime) -> datetime | None:
    """When the latest successful tracker run before ``before`` started: where the next window begins.

    A run succeeds only once Notify accepted its email (or there was nothing
    to send), so a failed report leaves its window to the next one.
    """
    return connection.execute(
        text("SELECT max(started_at) FROM jobs.runs WHERE job = :job AND status = 'succeeded' AND started_at < :before"),
        {"job": JOB, "before": before},
    ).scalar()


def run_started_at(connection: Connection, run_id: str) -> datetime:
    started = connection.execute(text("SELECT started_at FROM jobs.runs WHERE run_id = :r"), {"r": str(run_id)}).scalar()
    if started is None:
        raise LookupError(f"run {run_id} is not in the ledger")
    return started


def window_ending(connection: Connection, end: datetime) -> Window:
    return report_window(end, last_report(connection, end))


def gather(connection: Connection, window: Window) -> list[Problem]:
    rows = connection.execute(
        text(
            "SELECT job, kind, count(*) AS count, min(at) AS first, max(at) AS last FROM jobs.events "
            "WHERE at >= :start AND at < :end AND kind = ANY(:kinds) GROUP BY job, kind"
        ),
        {"start": window.start, "end": window.end, "kinds": list(KINDS)},
    ).all()
    return [Problem(r.job, r.kind, r.count, r.first, r.last) for r in rows]
