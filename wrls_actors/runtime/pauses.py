"""Pausing and resuming a schedule: an operator's action, with who and why kept in the ledger.

While paused, each of the schedule's ticks is claimed as ``paused`` (by the
scheduler, or by the missed-tick watch when no scheduler sent it): the job does
not start, and no tick is missed. Resuming does not catch the paused ticks up
unless asked; then the job starts once, for the latest paused tick, under the
schedule's overlap policy.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, text

from .database import record_action
from .definitions import Schedule
from .errors import JobRefused
from .scheduling import CAUGHT_UP, PAUSED, Scheduling

logger = logging.getLogger(__name__)


class UnknownSchedule(JobRefused):
    """Raised when an action names a schedule the service does not have."""


class PauseConflict(JobRefused):
    """Raised when pausing a paused schedule, or resuming one that is not paused."""


def _schedule(scheduling: Scheduling, name: str) -> Schedule:
    schedule = scheduling.schedules.get(name)
    if schedule is None:
        raise UnknownSchedule(f"no schedule {name!r}")
    return schedule


def _event(connection: Connection, kind: str, schedule: Schedule, operator: str, reason: str, detail: str) -> None:
    record_action(
        connection, kind, operator=operator, reason=reason, detail=detail, job=schedule.job, schedule=schedule.name
    )


def pause(scheduling: Scheduling, name: str, operator: str, reason: str) -> None:
    schedule = _schedule(scheduling, name)
    with scheduling.engine.begin() as connection:
        inserted = connection.execute(
            text(
                "INSERT INTO jobs.schedule_pauses (schedule, operator, reason) VALUES (:s, :o, :r) "
                "ON CONFLICT DO NOTHING RETURNING 1"
            ),
            {"s": name, "o": operator, "r": reason},
        ).first()
        if inserted is None:
            raise PauseConflict(f"schedule {name} is already paused")
        _event(connection, "schedule-paused", schedule, operator, reason, f"paused by {operator}: {reason}")
    logger.warning("schedule %s paused by %s: %s", name, operator, reason)


def resume(scheduling: Scheduling, name: str, operator: str, reason: str, *, catch_up: bool = False) -> str | None:
    """Resume; with ``catch_up``, start the job for the latest paused tick. Returns that run's id, if any."""
    schedule = _schedule(scheduling, name)
    with scheduling.engine.begin() as connection:
        row = connection.execute(
            text("DELETE FROM jobs.schedule_pauses WHERE schedule = :s RETURNING paused_at"), {"s": name}
        ).first()
        if row is None:
            raise PauseConflict(f"schedule {name} is not paused")
        latest = connection.execute(
            text(
                "SELECT nominal_time FROM jobs.ticks WHERE schedule = :s AND outcome = :paused "
                "AND claimed_at >= :since ORDER BY nominal_time DESC LIMIT 1"
            ),
            {"s": name, "paused": PAUSED, "since": row.paused_at},
        ).scalar()
        detail = f"resumed by {operator}: {reason}" + ("; catching up the latest paused tick" if catch_up else "")
        _event(connection, "schedule-resumed", schedule, operator, reason, detail)
    logger.warning("schedule %s %s", name, detail)
    if not catch_up or latest is None:
        return None

    def claim(connection: Connection, run_id: str) -> None:
        connection.execute(
            text(
                "UPDATE jobs.ticks SET outcome = :outcome, run_id = CAST(:run AS uuid), "
                "detail = detail || '; caught up on resume' WHERE schedule = :s AND nominal_time = :n"
            ),
            {"outcome": CAUGHT_UP, "run": run_id, "s": name, "n": latest},
        )

    return scheduling.control.start(
        schedule.job, "schedule", nominal_time=latest, overlap=schedule.overlap, claim=claim
    )
