"""Ticks: claiming, overlap, lateness, missed ticks and catch-up.

A tick is one nominal firing time of a schedule. It is claimed by inserting
the unique ``jobs.ticks (schedule, nominal_time)`` row in the same transaction
that creates its run, so two schedulers (the HA set-up), a scheduler restarted
within the minute, or a redelivered tick message start the job once; every
other copy is counted as ``suppressed``, which is normal and no incident.

What needs a person is counted apart: a tick whose claim is gone (its row
deleted or restored away) but whose run exists, so that a second start was
attempted (``double-start``: refused, and an incident); and a tick message at
a time the schedule does not fire at, from a process with another schedule
(a ``tick-unexpected`` event). The hour repeated when clocks go back is not a
tick at all: periodiq fires the repeated wall-clock time, nothing records it.

The watch runs in every scheduler process (at start and every 30 seconds): a
nominal time with no tick row ``missed_after_s`` after it is recorded as
missed, and the schedule's catch-up policy decides whether the latest missed
tick is run (``caught-up``) or not. It also starts the ticks an operator's
backfill queued (backfills.py) as the overlap policy lets them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, text

from .cron import fire_times, is_expected, repeated_wall_time
from .database import bump, labels_json
from .definitions import LATEST, Schedule
from .errors import AlreadyRunning, JobRefused
from .runs import RunControl

logger = logging.getLogger(__name__)

STARTED, LATE, CAUGHT_UP = "started", "late", "caught-up"
SUPPRESSED, SKIPPED_OVERLAP, MISSED, NO_STEPS = "suppressed", "skipped-overlap", "missed", "no-steps"
PAUSED = "paused"
BACKFILL_QUEUED, BACKFILLED = "backfill-queued", "backfilled"
DOUBLE_START, NOT_A_TICK = "double-start", "not-a-tick"
INCIDENTS = {LATE, MISSED, DOUBLE_START}


class DuplicateTick(Exception):
    """Raised inside the claiming transaction when the tick row already exists."""


class DoubleStart(Exception):
    """Raised inside the claiming transaction when the tick's run exists although its row did not."""


@dataclass(frozen=True)
class TickResult:
    outcome: str
    run_id: str | None = None
    detail: str | None = None


def paused(connection: Connection, schedule: str) -> str | None:
    """Why the schedule is paused, as its ticks record it; None when it is not."""
    row = connection.execute(
        text("SELECT operator, reason FROM jobs.schedule_pauses WHERE schedule = :s"), {"s": schedule}
    ).first()
    return None if row is None else f"paused by {row.operator}: {row.reason}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Scheduling:
    def __init__(
        self,
        engine: Engine,
        control: RunControl,
        schedules: Mapping[str, Schedule],
        *,
        tz: ZoneInfo,
        late_after_s: int,
        missed_after_s: int,
        catchup_window_h: int,
    ) -> None:
        self.engine = engine
        self.control = control
        self.schedules = schedules
        self.tz = tz
        self.late_after = timedelta(seconds=late_after_s)
        self.missed_after = timedelta(seconds=missed_after_s)
        self.catchup_window = timedelta(hours=catchup_window_h)

    # -- one tick -------------------------------------------------------------

    def handle(
        self,
        name: str,
        nominal: datetime,
        message_id: str | None,
        *,
        now: datetime | None = None,
        caught_up: bool = False,
    ) -> TickResult:
        """Claim the tick and start its job, recording the outcome."""
        schedule = self.schedules[name]
        now = now or utcnow()
        nominal = nominal.astimezone(UTC)
        lag_s = max(0.0, (now - nominal).total_seconds())
        if not is_expected(schedule, nominal, self.tz):
            return self._not_a_tick(schedule, nominal, message_id)
        if schedule.job not in self.control.jobs:
            return self._record(schedule, nominal, NO_STEPS, lag_s, message_id, f"job {schedule.job} has no steps yet")
        with self.engine.connect() as connection:
            pause = paused(connection, schedule.name)
        if pause is not None:
            return self._record(schedule, nominal, PAUSED, lag_s, message_id, pause)
        outcome = CAUGHT_UP if caught_up else (LATE if now - nominal > self.late_after else STARTED)

        def claim(connection: Connection, run_id: str) -> None:
            if not self._insert(
                connection,
                schedule,
                nominal,
                outcome,
                lag_s,
                message_id,
                run_id,
                f"{lag_s:.0f}s after its nominal time" if outcome == LATE else None,
            ):
                raise DuplicateTick()
            # Starts of one job are serialised (RunControl's lock), so this sees any earlier run of the tick.
            _refuse_double_start(connection, schedule, nominal, run_id)

        try:
            run_id = self.control.start(
                schedule.job, "schedule", nominal_time=nominal, overlap=schedule.overlap, claim=claim
            )
        except DuplicateTick:
            return self._suppressed(schedule, nominal)
        except DoubleStart as e:
            return self._record(
                schedule,
                nominal,
                DOUBLE_START,
                lag_s,
                message_id,
                f"its run {e} exists but its tick row did not (deleted or restored?): not started again",
            )
        except JobRefused as e:
            return self._record(schedule, nominal, SKIPPED_OVERLAP, lag_s, message_id, str(e))
        return TickResult(outcome, run_id)

    def _insert(
        self,
        connection: Connection,
        schedule: Schedule,
        nominal: datetime,
        outcome: str,
        lag_s: float,
        message_id: str | None,
        run_id: str | None,
        detail: str | None,
    ) -> bool:
        inserted = connection.execute(
            text(
                "INSERT INTO jobs.ticks (schedule, nominal_time, outcome, lag_s, run_id, message_id, detail) "
                "VALUES (:schedule, :nominal, :outcome, :lag, :run_id, :message_id, :detail) "
                "ON CONFLICT DO NOTHING RETURNING 1"
            ),
            {
                "schedule": schedule.name,
                "nominal": nominal,
                "outcome": outcome,
                "lag": lag_s,
                "run_id": run_id,
                "message_id": message_id,
                "detail": detail,
            },
        ).first()
        if inserted is None:
            return False
        labels = {"schedule": schedule.name}
        bump(connection, "ticks_total", {**labels, "outcome": outcome})
        if outcome != MISSED:
            connection.execute(
                text(
                    "INSERT INTO jobs.counters (name, labels, value) VALUES ('schedule_lag_seconds', CAST(:l AS jsonb), :v) "
                    "ON CONFLICT (name, labels) DO UPDATE SET value = EXCLUDED.value"
                ),
                {"l": labels_json(labels), "v": lag_s},
            )
        if outcome in INCIDENTS:
            self._incident(connection, schedule, nominal, outcome, detail)
        logger.info(
            "tick %s %s: %s%s",
            schedule.name,
            nominal.isoformat(),
            outcome,
            f" ({detail})" if detail else "",
            extra={"schedule": schedule.name, "run_id": run_id},
        )
        return True

    def _incident(
        self, connection: Connection, schedule: Schedule, nominal: datetime, kind: str, detail: str | None
    ) -> None:
        connection.execute(
            text("INSERT INTO jobs.events (kind, job, schedule, detail) VALUES (:kind, :job, :schedule, :detail)"),
            {
                "kind": f"tick-{kind}",
                "job": schedule.job,
                "schedule": schedule.name,
                "detail": f"tick {nominal.isoformat()}" + (f": {detail}" if detail else ""),
            },
        )

    def _record(
        self,
        schedule: Schedule,
        nominal: datetime,
        outcome: str,
        lag_s: float,
        message_id: str | None,
        detail: str | None,
    ) -> TickResult:
        with self.engine.begin() as connection:
            if self._insert(connection, schedule, nominal, outcome, lag_s, message_id, None, detail):
                return TickResult(outcome, None, detail)
        return self._suppressed(schedule, nominal)

    def _suppressed(self, schedule: Schedule, nominal: datetime) -> TickResult:
        """Another copy of a claimed tick (another scheduler's, a restart's, a redelivery): counted, nothing more."""
        with self.engine.begin() as connection:
            connection.execute(
                text("UPDATE jobs.ticks SET duplicates = duplicates + 1 WHERE schedule = :s AND nominal_time = :n"),
                {"s": schedule.name, "n": nominal},
            )
            bump(connection, "ticks_total", {"schedule": schedule.name, "outcome": SUPPRESSED})
        logger.info("tick %s %s: suppressed (already claimed)", schedule.name, nominal.isoformat())
        return TickResult(SUPPRESSED, None, "already claimed")

    def _not_a_tick(self, schedule: Schedule, nominal: datetime, message_id: str | None) -> TickResult:
        first = nominal.astimezone(self.tz).replace(fold=0).astimezone(UTC)
        if repeated_wall_time(nominal, self.tz) and first != nominal and is_expected(schedule, first, self.tz):
            # Cron semantics: a fixed-hour schedule fires once in the repeated
            # hour; periodiq, which matches the wall clock, fires it again.
            detail = f"the wall-clock time repeated when clocks went back; it fired at {first.isoformat()}"
            logger.info("tick %s %s: not a tick (%s)", schedule.name, nominal.isoformat(), detail)
            return TickResult(NOT_A_TICK, None, detail)
        detail = (
            f"{schedule.name} does not fire at {nominal.isoformat()} ({schedule.describe()}): the process "
            "that sent it has another schedule"
        )
        logger.warning("tick %s %s: not a tick (%s)", schedule.name, nominal.isoformat(), detail)
        with self.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO jobs.events (kind, job, schedule, message_id, detail) "
                    "VALUES ('tick-unexpected', :job, :schedule, :mid, :detail)"
                ),
                {"job": schedule.job, "schedule": schedule.name, "mid": message_id, "detail": detail},
            )
        return TickResult(NOT_A_TICK, None, detail)

    # -- the scheduler's clock ------------------------------------------------

    def record_clock(self, host: str) -> float:
        """Measure this host's clock against the database's and record it; returns the offset (+ = ahead).

        The database's clock is the one reference every scheduler shares: two
        schedulers whose offsets differ send the same tick at different times.
        """
        with self.engine.begin() as connection:
            connection.execute(text("SELECT 1"))  # BEGIN's round trip, outside the measured one
            before = time.time()
            database_s = float(connection.execute(text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one())
            after = time.time()
            offset_s = (before + after) / 2 - database_s
            labels = labels_json({"host": host})
            for name, value in (
                ("scheduler_clock_offset_seconds", offset_s),
                ("scheduler_clock_checked_at", database_s),
            ):
                connection.execute(
                    text(
                        "INSERT INTO jobs.counters (name, labels, value) VALUES (:name, CAST(:l AS jsonb), :v) "
                        "ON CONFLICT (name, labels) DO UPDATE SET value = EXCLUDED.value"
                    ),
                    {"name": name, "l": labels, "v": value},
                )
        return offset_s

    # -- the watch: missed ticks and catch-up ----------------------------------

    def watch(self, now: datetime | None = None) -> list[TickResult]:
        """Record ticks nobody claimed in time; catch up the latest where the policy says so."""
        now = now or utcnow()
        horizon = now - self.missed_after
        results = []
        for schedule in self.schedules.values():
            if not schedule.enabled:
                continue
            results.extend(self._watch_one(schedule, now, horizon))
            results.extend(self.start_backfills(schedule))
        return results

    # -- backfilled ticks --------------------------------------------------------

    def start_backfills(self, schedule: Schedule) -> list[TickResult]:
        """Start the schedule's ``backfill-queued`` ticks, oldest first, as its overlap policy lets them.

        Under ``skip`` one starts when the job is not running and the rest wait
        for a later call (the watch's); under ``allow`` every one starts. A
        paused schedule's queued ticks wait for its resume.
        """
        if schedule.job not in self.control.jobs:
            return []
        with self.engine.connect() as connection:
            if paused(connection, schedule.name) is not None:
                return []
            queued = list(
                connection.execute(
                    text(
                        "SELECT nominal_time FROM jobs.ticks WHERE schedule = :s AND outcome = :queued "
                        "ORDER BY nominal_time"
                    ),
                    {"s": schedule.name, "queued": BACKFILL_QUEUED},
                ).scalars()
            )
        results = []
        for nominal in queued:
            try:
                run_id = self.control.start(
                    schedule.job,
                    "schedule",
                    nominal_time=nominal,
                    overlap=schedule.overlap,
                    claim=partial(self._claim_backfill, schedule, nominal),
                )
            except DuplicateTick:
                continue  # another scheduler's watch started it
            except DoubleStart as e:
                results.append(self._backfill_refused(schedule, nominal, str(e)))
                continue
            except AlreadyRunning:
                break  # the job runs (this backfill's previous tick, or another run): the rest wait
            results.append(TickResult(BACKFILLED, run_id))
        return results

    def _claim_backfill(self, schedule: Schedule, nominal: datetime, connection: Connection, run_id: str) -> None:
        lag_s = max(0.0, (utcnow() - nominal).total_seconds())
        claimed = connection.execute(
            text(
                "UPDATE jobs.ticks SET outcome = :backfilled, run_id = CAST(:run AS uuid), lag_s = :lag "
                "WHERE schedule = :s AND nominal_time = :n AND outcome = :queued RETURNING 1"
            ),
            {
                "backfilled": BACKFILLED,
                "queued": BACKFILL_QUEUED,
                "run": run_id,
                "lag": lag_s,
                "s": schedule.name,
                "n": nominal,
            },
        ).first()
        if claimed is None:
            raise DuplicateTick()
        # As a tick's claim does (handle): a run of this tick must not exist already.
        _refuse_double_start(connection, schedule, nominal, run_id)
        bump(connection, "ticks_total", {"schedule": schedule.name, "outcome": BACKFILLED})
        logger.info(
            "tick %s %s: backfilled",
            schedule.name,
            nominal.isoformat(),
            extra={"schedule": schedule.name, "run_id": run_id},
        )

    def _backfill_refused(self, schedule: Schedule, nominal: datetime, earlier: str) -> TickResult:
        detail = f"its run {earlier} exists although its tick row did not (deleted or restored?): not started again"
        with self.engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE jobs.ticks SET outcome = :outcome, detail = coalesce(detail || '; ', '') || :detail "
                    "WHERE schedule = :s AND nominal_time = :n AND outcome = :queued"
                ),
                {
                    "outcome": DOUBLE_START,
                    "detail": detail,
                    "s": schedule.name,
                    "n": nominal,
                    "queued": BACKFILL_QUEUED,
                },
            )
            bump(connection, "ticks_total", {"schedule": schedule.name, "outcome": DOUBLE_START})
            self._incident(connection, schedule, nominal, DOUBLE_START, detail)
        return TickResult(DOUBLE_START, None, detail)

    def _watch_one(self, schedule: Schedule, now: datetime, horizon: datetime) -> list[TickResult]:
        with self.engine.begin() as connection:
            key = labels_json({"schedule": schedule.name})
            # Lock this schedule's watch state so two schedulers do not race.
            row = connection.execute(
                text(
                    "SELECT value FROM jobs.counters WHERE name = 'scheduler_watched_until' "
                    "AND labels = CAST(:k AS jsonb) FOR UPDATE"
                ),
                {"k": key},
            ).first()
            floor = now - self.catchup_window
            # The first watch ever starts the record now: nothing before it was expected of us.
            since = now if row is None else max(floor, datetime.fromtimestamp(row.value, UTC))
            connection.execute(
                text(
                    "INSERT INTO jobs.counters (name, labels, value) VALUES ('scheduler_watched_until', CAST(:k AS jsonb), :v) "
                    "ON CONFLICT (name, labels) DO UPDATE SET value = greatest(jobs.counters.value, EXCLUDED.value)"
                ),
                {"k": key, "v": (now if row is None else horizon).timestamp()},
            )
            if since >= horizon:
                return []
            expected = fire_times(schedule, since, horizon, self.tz)
            if not expected:
                return []
            claimed = {
                r.nominal_time
                for r in connection.execute(
                    text(
                        "SELECT nominal_time FROM jobs.ticks WHERE schedule = :s AND nominal_time > :a AND nominal_time <= :b"
                    ),
                    {"s": schedule.name, "a": since, "b": horizon},
                )
            }
            missed = [t for t in expected if t not in claimed]
            if not missed:
                return []
            pause = paused(connection, schedule.name)
            if pause is not None:
                # Not missed: nobody was to start them. Recorded as paused, and never caught up.
                results = []
                for nominal in missed:
                    if self._insert(
                        connection, schedule, nominal, PAUSED, (now - nominal).total_seconds(), None, None, pause
                    ):
                        results.append(TickResult(PAUSED, None, pause))
                return results
            newer_claimed = connection.execute(
                text("SELECT 1 FROM jobs.ticks WHERE schedule = :s AND nominal_time > :t LIMIT 1"),
                {"s": schedule.name, "t": missed[-1]},
            ).first()
            catch_up = schedule.catch_up == LATEST and newer_claimed is None
            to_record = missed[:-1] if catch_up else missed
            results = []
            for nominal in to_record:
                if self._insert(
                    connection,
                    schedule,
                    nominal,
                    MISSED,
                    (now - nominal).total_seconds(),
                    None,
                    None,
                    "no scheduler claimed it",
                ):
                    results.append(TickResult(MISSED))
        if catch_up:
            results.append(self.handle(schedule.name, missed[-1], None, now=now, caught_up=True))
        return results


def timeline(
    schedules: Mapping[str, Schedule], start: datetime, end: datetime, tz: ZoneInfo, *, include_intervals: bool = False
) -> list[tuple[datetime, Schedule]]:
    """Every (local time, schedule) firing in ``[start, end)``, by instant then table order.

    Sorted by the instant, not the wall time: in the hour repeated when clocks
    go back, 01:00 BST comes before 01:00 GMT although both read 01:00.
    """
    rows = []
    for order, schedule in enumerate(schedules.values()):
        if not schedule.enabled or (schedule.every is not None and not include_intervals):
            continue
        for moment in fire_times(schedule, start - timedelta(seconds=1), end - timedelta(seconds=1), tz):
            rows.append((moment.astimezone(tz), order, schedule))
    rows.sort(key=lambda r: (r[0].astimezone(UTC), r[1]))
    return [(moment, schedule) for moment, _, schedule in rows]


def _refuse_double_start(connection: Connection, schedule: Schedule, nominal: datetime, run_id: str) -> None:
    """DoubleStart if another run of this tick exists: the tick's claim (its row) was lost, not the start."""
    earlier = connection.execute(
        text(
            "SELECT run_id FROM jobs.runs WHERE job = :job AND trigger = 'schedule' "
            "AND nominal_time = :nominal AND run_id <> :run_id LIMIT 1"
        ),
        {"job": schedule.job, "nominal": nominal, "run_id": run_id},
    ).first()
    if earlier is not None:
        raise DoubleStart(str(earlier.run_id))
