"""Backfilling a schedule: an operator's action that runs the ticks of a past range that never ran.

A tick of ``[since, until)`` is backfilled when it has no row in ``jobs.ticks``
(nobody sent it, and no watch was looking then), or its row says ``missed``
or ``paused``. Every other tick is left as it is: one that started (``started``,
``late``, ``caught-up``, ``backfilled``) never runs twice, and one skipped by
its overlap policy (``skipped-overlap``) was skipped on purpose. A tick whose
scheduled run exists although its row does not is not run again either.

The ticks to backfill are recorded ``backfill-queued`` in one transaction with
the ``schedule-backfilled`` event; each starts as its overlap policy lets it
(scheduling.py ``start_backfills``), oldest first, and reads ``backfilled``
with its run. Under ``allow`` every one starts at once. Under ``skip`` one runs
at a time: the first starts now if the job is not running, and the scheduler's
watch starts the next whenever the job is not running (every 30 seconds);
a scheduled tick that comes while a backfilled run is going is skipped as
overlapping, as it would be behind any other run. The same range backfilled
again finds nothing to do.

Refused: an unknown schedule; a paused one, one switched off, or one whose job
has no steps; a range that is empty, reaches into the future, is longer than
``MAX_SPAN`` or holds more than ``MAX_TICKS`` ticks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, text

from .cron import fire_times
from .database import record_action
from .definitions import Schedule
from .errors import JobRefused
from .pauses import UnknownSchedule
from .scheduling import BACKFILL_QUEUED, BACKFILLED, MISSED, PAUSED, Scheduling, paused, utcnow

logger = logging.getLogger(__name__)

MAX_TICKS = 1_000
# fire_times looks at every minute that fires, so an every-minute cron's 92 days are 132,480 minutes looked at
# (about a quarter of a second): a bound on that as well as on the ticks.
MAX_SPAN = timedelta(days=92)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadBackfillRange(JobRefused):
    """Raised when a backfill's range is not one it can run: ``field`` is ``since``, ``until`` or ``range``."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class BackfillRefused(JobRefused):
    """Raised when a schedule cannot be backfilled now: paused, switched off, or its job has no steps."""


@dataclass(frozen=True)
class Backfill:
    """What a backfill did: the runs it started now, the ticks queued behind them (oldest first)."""

    schedule: str
    run_ids: list[str] = field(default_factory=list)
    queued: list[datetime] = field(default_factory=list)

    @property
    def ticks(self) -> int:
        return len(self.run_ids) + len(self.queued)


def ticks_in(schedule: Schedule, since: datetime, until: datetime, scheduling: Scheduling) -> list[datetime]:
    """The schedule's nominal times in ``[since, until)``; BadBackfillRange when the range cannot be backfilled."""
    since, until = _moment(since, "since"), _moment(until, "until")
    if since >= until:
        raise BadBackfillRange(f"since ({since.isoformat()}) must be before until ({until.isoformat()})", "range")
    now = utcnow()
    if until > now:
        raise BadBackfillRange(
            f"until ({until.isoformat()}) is in the future: only past ticks are backfilled (now {now.isoformat()})",
            "until",
        )
    if since < EPOCH:
        raise BadBackfillRange(f"since ({since.isoformat()}) is before 1970: no ledger goes back so far", "since")
    if until - since > MAX_SPAN:
        raise BadBackfillRange(f"the range is over {MAX_SPAN.days} days: backfill it in parts", "range")
    if schedule.every is not None and (until - since) // schedule.every > MAX_TICKS:
        # Refused before they are listed: a quarter of 15 s ticks is half a million.
        raise BadBackfillRange(
            f"the range holds over {MAX_TICKS} ticks of {schedule.name} (every "
            f"{int(schedule.every.total_seconds())}s); a backfill takes at most {MAX_TICKS}: backfill it in parts",
            "range",
        )
    # fire_times takes (start, end] and reads them to the whole second below; every nominal time is a whole
    # second. The end is just before until, not a second before: an until 0.5 s past a tick holds that tick.
    times = fire_times(schedule, since - timedelta(seconds=1), until - timedelta(microseconds=1), scheduling.tz)
    times = [t for t in times if since <= t < until]
    if len(times) > MAX_TICKS:
        raise BadBackfillRange(
            f"the range holds {len(times)} ticks of {schedule.name}; a backfill takes at most {MAX_TICKS}: "
            "backfill it in parts",
            "range",
        )
    return times


def _moment(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise BadBackfillRange(f"{name} must be a date and time, got {type(value).__name__}", name)
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadBackfillRange(f"{name} needs a time zone (2026-01-31T08:00:00Z)", name)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise BadBackfillRange(f"{name} is out of range once in UTC", name) from None


def backfill(
    scheduling: Scheduling, name: str, *, since: datetime, until: datetime, operator: str, reason: str
) -> Backfill:
    """Queue the range's ticks that never ran and start them under the overlap policy (see the module)."""
    schedule = scheduling.schedules.get(name)
    if schedule is None:
        raise UnknownSchedule(f"no schedule {name!r}")
    if not schedule.enabled:
        raise BackfillRefused(f"schedule {name} is switched off here: it has no ticks to backfill")
    if schedule.job not in scheduling.control.jobs:
        raise BackfillRefused(f"schedule {name}: job {schedule.job} has no steps yet")
    times = ticks_in(schedule, since, until, scheduling)
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    with scheduling.engine.begin() as connection:
        pause = paused(connection, name)
        if pause is not None:
            raise BackfillRefused(f"schedule {name} is {pause}: resume it first")
        queued = _queue(connection, schedule, times, f"backfill by {operator}: {reason}")
        detail = (
            f"backfill of [{since.isoformat()}, {until.isoformat()}) by {operator}: "
            f"{len(queued)} of its {len(times)} ticks to run"
        )
        record_action(
            connection,
            "schedule-backfilled",
            operator=operator,
            reason=reason,
            detail=detail,
            job=schedule.job,
            schedule=name,
        )
    logger.warning("schedule %s: %s", name, detail)
    started = [r.run_id for r in scheduling.start_backfills(schedule) if r.outcome == BACKFILLED and r.run_id]
    with scheduling.engine.connect() as connection:
        waiting = set(
            connection.execute(
                text("SELECT nominal_time FROM jobs.ticks WHERE schedule = :s AND outcome = :queued"),
                {"s": name, "queued": BACKFILL_QUEUED},
            ).scalars()
        )
    return Backfill(name, started, [t for t in queued if t in waiting])


def _queue(connection: Connection, schedule: Schedule, times: list[datetime], detail: str) -> list[datetime]:
    """Record the ticks that never ran as ``backfill-queued``; returns them, oldest first."""
    if not times:
        return []
    # Under the job's start lock, so no start of this job (tick, trigger, backfill) is half-way meanwhile.
    connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"run:{schedule.job}"})
    ran = set(
        connection.execute(
            text(
                "SELECT nominal_time FROM jobs.runs WHERE job = :job AND trigger = 'schedule' "
                "AND nominal_time = ANY(:times)"
            ),
            {"job": schedule.job, "times": times},
        ).scalars()
    )
    # A tick with no row is inserted; a missed or paused one is taken over. A row claimed meanwhile
    # (by the scheduler, by another backfill) is left alone.
    return sorted(
        connection.execute(
            text(
                "INSERT INTO jobs.ticks (schedule, nominal_time, outcome, detail) "
                "SELECT :s, t, :queued, :detail FROM unnest(CAST(:times AS timestamptz[])) AS t "
                "ON CONFLICT (schedule, nominal_time) DO UPDATE SET outcome = EXCLUDED.outcome, "
                "detail = coalesce(jobs.ticks.detail || '; ', '') || EXCLUDED.detail "
                "WHERE jobs.ticks.outcome IN (:missed, :paused) AND jobs.ticks.run_id IS NULL "
                "RETURNING nominal_time"
            ),
            {
                "s": schedule.name,
                "times": [t for t in times if t not in ran],
                "queued": BACKFILL_QUEUED,
                "detail": detail,
                "missed": MISSED,
                "paused": PAUSED,
            },
        ).scalars()
    )
