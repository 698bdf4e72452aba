"""Ledger retention: weekly partitions made ahead, old weeks dropped whole, failures archived first.

jobs.runs, steps, events, ticks, barriers and barrier_arrivals are partitioned
by week (Monday 00:00 UTC, ``<table>_pYYYYMMDD``; migration 0009). ``retain``
keeps them so:

- rows that landed in a table's DEFAULT partition (no week held them: a clock
  far off, or this job not run for weeks) are moved into their own week;
- the current week and ``WEEKS_AHEAD`` after it exist, so writers never need
  the DEFAULT partition;
- a week whose end is older than the retention is dropped (DROP TABLE: no
  row is deleted one by one), unless it holds a run still going, or steps,
  events or ticks of one: then it is kept and the result says why;
- before a week goes, its failed runs (failed, completed with failures, or
  with failed children), its failed steps and the events of both are copied
  into jobs.archive_runs / archive_steps / archive_events, partitioned by
  month and dropped past the failure retention;
- one pass drops at most the WEEKS_PER_PASS oldest weeks past the retention,
  the same weeks of every table: a longer backlog goes over the next passes.

DDL on a partition locks its parent, and writers must not queue behind a
lock that waits for a long transaction: each partition is created or moved in
a transaction of its own, and a table's old weeks are checked and archived
first, with no lock on the parent, then dropped a group at a time, each with a
short lock timeout and tried again when it runs out.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from psycopg2 import errors
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from .definitions import LATEST, SKIP, Job, Schedule, Step, StepContext

logger = logging.getLogger(__name__)
T = TypeVar("T")

JOB = "ledger-retention"
CRON = "10 3 * * *"
WEEKS_AHEAD = 4
# Each create, move or drop waits this long at most for its parent's lock (writers queue behind it meanwhile), up to
# LOCK_ATTEMPTS times, LOCK_PAUSE_S apart; DROP_GROUP weeks of a table go in one transaction.
LOCK_TIMEOUT = "2s"
LOCK_ATTEMPTS = 15
LOCK_PAUSE_S = 1.0
DROP_GROUP = 10
# Old weeks one pass drops at most; a longer backlog goes over the next days' passes.
WEEKS_PER_PASS = 8
# Room to hash a year's archived run and step ids in memory rather than probe them row by row.
ARCHIVE_WORK_MEM = "64MB"

# A failure kept in the archive: the run's outcome, or a step's final status.
FAILED_RUNS = "status IN ('failed', 'completed-with-failures') OR children_failed > 0"
FAILED_STEPS = "status IN ('failed', 'timed-out', 'dead-lettered')"


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    key: str
    is_date: bool = False

    def bound(self, day: date) -> str:
        return f"'{day.isoformat()}'" if self.is_date else f"'{day.isoformat()} 00:00:00+00'"

    @property
    def key_day(self) -> str:
        """The partition key as a UTC day."""
        return self.key if self.is_date else f"({self.key} AT TIME ZONE 'UTC')::date"


# In the order they are dropped: a run's steps and events are never older than it, so a failed run is in
# the archive before its steps' and events' weeks are looked at.
RUNS = Table("runs", "started_at")
STEPS = Table("steps", "created_on", is_date=True)
EVENTS = Table("events", "at")
TICKS = Table("ticks", "nominal_time")
BARRIERS = Table("barriers", "run_started_at")
ARRIVALS = Table("barrier_arrivals", "run_started_at")
LEDGER = (RUNS, STEPS, EVENTS, TICKS, BARRIERS, ARRIVALS)
ARCHIVES = {
    "runs": Table("archive_runs", "started_at"),
    "steps": Table("archive_steps", "created_on", is_date=True),
    "events": Table("archive_events", "at"),
}

# What of a week goes into the archive before it is dropped: runs and steps by their outcome (a week's seq
# scan, or the failed-steps index); events by what went to the archive before them (see ``_archive_events``).
ARCHIVED = {
    "runs": f"WHERE {FAILED_RUNS}",
    "steps": f"WHERE {FAILED_STEPS}",
}


@dataclasses.dataclass
class Retained:
    """What one pass did: partitions created, dropped and kept (with why), rows archived and moved."""

    created: list[str] = dataclasses.field(default_factory=list)
    dropped: list[str] = dataclasses.field(default_factory=list)
    kept: dict[str, str] = dataclasses.field(default_factory=dict)
    archived: dict[str, int] = dataclasses.field(default_factory=lambda: {"runs": 0, "steps": 0, "events": 0})
    moved: int = 0
    left: int = 0  # partitions past the retention left for the next pass (WEEKS_PER_PASS)

    def describe(self) -> str:
        text_ = (
            f"{len(self.created)} partitions created, {len(self.dropped)} dropped, {len(self.kept)} kept; "
            f"archived {self.archived['runs']} runs, {self.archived['steps']} steps, {self.archived['events']} events"
        )
        if self.moved:
            text_ += f"; {self.moved} rows moved out of the default partitions"
        if self.left:
            text_ += f"; {self.left} past the retention left for the next pass ({WEEKS_PER_PASS} weeks a pass)"
        if self.kept:
            text_ += "; kept: " + "; ".join(f"{name}: {why}" for name, why in sorted(self.kept.items()))
        return text_


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_name(table: Table, week: date) -> str:
    return f"{table.name}_p{week:%Y%m%d}"


def month_name(table: Table, month: date) -> str:
    return f"{table.name}_p{month:%Y%m}"


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partitions(connection: Connection, table: Table) -> dict[str, date]:
    """The table's partitions named by this module (week or month), by name, with the day each begins."""
    names = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:parent AS regclass)"
        ),
        {"parent": f"jobs.{table.name}"},
    ).scalars()
    found = {}
    prefix = f"{table.name}_p"
    for name in names:
        digits = name[len(prefix) :] if name.startswith(prefix) else ""
        if len(digits) == 8 and digits.isdigit():
            found[name] = datetime.strptime(digits, "%Y%m%d").date()
        elif len(digits) == 6 and digits.isdigit():
            found[name] = datetime.strptime(digits + "01", "%Y%m%d").date()
    return found


def _ddl(engine: Engine, work: Callable[[Connection], T]) -> T:
    """``work`` in a transaction of its own that waits at most LOCK_TIMEOUT for a lock, tried again when it runs out.

    DDL on a partition locks its parent, and the ledger's writers queue behind
    a request for that lock: the short timeout bounds their wait, and the pass
    gives way and tries again rather than give up (the lock is free between
    two flushes of the writers).
    """
    for attempt in itertools.count(1):
        try:
            with engine.begin() as connection:
                connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                return work(connection)
        except OperationalError as e:
            if not isinstance(e.orig, errors.LockNotAvailable) or attempt >= LOCK_ATTEMPTS:
                raise
            logger.info("ledger retention: the ledger is busy, trying again (%d): %s", attempt, e.orig)
            time.sleep(LOCK_PAUSE_S)
    raise AssertionError("unreachable")


def _create(connection: Connection, table: Table, name: str, lower: date, upper: date) -> None:
    connection.execute(
        text(
            f"CREATE TABLE jobs.{name} PARTITION OF jobs.{table.name} "
            f"FOR VALUES FROM ({table.bound(lower)}) TO ({table.bound(upper)})"
        )
    )


def _columns(connection: Connection, table: str) -> str:
    rows = connection.execute(
        text(
            "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum"
        ),
        {"t": f"jobs.{table}"},
    ).scalars()
    return ", ".join(rows)


def _move_week(table: Table, name: str, week: date, connection: Connection) -> int:
    upper = week + timedelta(weeks=1)
    connection.execute(text(f"CREATE TEMP TABLE moving (LIKE jobs.{table.name}) ON COMMIT DROP"))
    connection.execute(
        text(
            f"WITH m AS (DELETE FROM jobs.{table.name}_default WHERE {table.key} >= {table.bound(week)} "
            f"AND {table.key} < {table.bound(upper)} RETURNING *) INSERT INTO moving SELECT * FROM m"
        )
    )
    _create(connection, table, name, week, upper)
    return int(connection.execute(text(f"INSERT INTO jobs.{table.name} SELECT * FROM moving")).rowcount)


def move_default(engine: Engine, table: Table, result: Retained) -> None:
    """Rows in the DEFAULT partition moved into their own weeks, each week created for them.

    PostgreSQL refuses a new partition while the DEFAULT one holds rows of its
    range, so the week's rows leave it first, in the same transaction.
    """
    with engine.connect() as connection:
        weeks = sorted(
            connection.execute(
                text(f"SELECT DISTINCT date_trunc('week', {table.key_day})::date FROM jobs.{table.name}_default")
            ).scalars()
        )
    for week in weeks:
        name = week_name(table, week)
        moved = _ddl(engine, functools.partial(_move_week, table, name, week))
        result.created.append(name)
        result.moved += moved
        logger.info(
            "ledger retention: %d rows of %s moved out of its default partition into %s", moved, table.name, name
        )


def make_weeks(engine: Engine, first: date, last: date) -> list[str]:
    """Every ledger table's weeks from the one holding ``first`` to the one holding ``last`` that are missing
    (e.g. before loading history in bulk, which the DEFAULT partition would hold otherwise); their names."""
    created = []
    for table in LEDGER:
        with engine.connect() as connection:
            existing = partitions(connection, table)
        week = monday(first)
        while week <= last:
            name = week_name(table, week)
            if name not in existing:
                _ddl(
                    engine,
                    functools.partial(_create, table=table, name=name, lower=week, upper=week + timedelta(weeks=1)),
                )
                created.append(name)
            week += timedelta(weeks=1)
    return created


def _still_going(connection: Connection, table: Table, name: str, running: dict[str, str]) -> str | None:
    """Why the partition must stay: a run still going in it, or rows of one of ``running`` (run id: job)."""
    if table is TICKS:
        # A backfill's queued ticks start runs later, oldest first: dropped, they would never run.
        tick = connection.execute(
            text(f"SELECT schedule, nominal_time FROM jobs.{name} WHERE outcome = 'backfill-queued' LIMIT 1")
        ).first()
        if tick is not None:
            return f"holds a backfill's queued tick of {tick.schedule} at {tick.nominal_time:%Y-%m-%d %H:%M} UTC"
    if table is RUNS:
        row = connection.execute(text(f"SELECT run_id, job FROM jobs.{name} WHERE status = 'running' LIMIT 1")).first()
        return f"run {row.run_id} of {row.job} is still running" if row is not None else None
    if not running:
        return None
    # One look at the week for all the runs going (ticks have no index by run: a scan each would cost a
    # year's first pass seconds).
    found = connection.execute(
        text(f"SELECT run_id::text FROM jobs.{name} WHERE run_id = ANY(CAST(:ids AS uuid[])) LIMIT 1"),
        {"ids": list(running)},
    ).scalar()
    return f"holds {table.name} of run {found} of {running[found]}, still running" if found is not None else None


def _archive_months(connection: Connection, archive: Table, week: date) -> None:
    existing = partitions(connection, archive)
    month = week.replace(day=1)
    while month < week + timedelta(weeks=1):
        month_table = month_name(archive, month)
        if month_table not in existing:
            _create(connection, archive, month_table, month, next_month(month))
        month = next_month(month)


def _copy(connection: Connection, table: Table, name: str, where: str, params: dict[str, object] | None = None) -> int:
    archive = ARCHIVES[table.name]
    columns = _columns(connection, table.name)
    copied = connection.execute(
        text(
            f"INSERT INTO jobs.{archive.name} ({columns}) SELECT {columns} FROM jobs.{name} e {where} "
            "ON CONFLICT DO NOTHING"
        ),
        params or {},
    ).rowcount
    return int(copied)


def _archive_events(connection: Connection, name: str, week: date, kept_runs: list[str]) -> int:
    """A week's events of archived runs and steps, and of failed runs in kept weeks.

    Two statements, each a plain semi-join the planner can hash or look up by
    index: one OR of correlated EXISTS probed every partition of runs for every
    event of the week, which made a first pass over a year's history take
    minutes. Runs of kept weeks are the only ones not yet archived whose events
    can be this old (a run's events never precede it).
    """
    failed_runs = " UNION ALL ".join(
        ["SELECT run_id FROM jobs.archive_runs"]
        + [f"SELECT run_id FROM jobs.{k} WHERE {FAILED_RUNS}" for k in kept_runs]
    )
    copied = _copy(connection, EVENTS, name, f"WHERE e.run_id IN ({failed_runs})")
    # A step's events are never older than its message's day.
    copied += _copy(
        connection,
        EVENTS,
        name,
        "WHERE e.message_id IN (SELECT message_id FROM jobs.archive_steps WHERE created_on < :end)",
        {"end": week + timedelta(weeks=1)},
    )
    return copied


def _archive(connection: Connection, table: Table, name: str, week: date, kept_runs: list[str]) -> int:
    """Copy the week's failures into the archive, its months created as needed; rows copied."""
    _archive_months(connection, ARCHIVES[table.name], week)
    if table is EVENTS:
        return _archive_events(connection, name, week, kept_runs)
    return _copy(connection, table, name, ARCHIVED[table.name])


def _drop_group(names: list[str], connection: Connection) -> None:
    connection.execute(text("DROP TABLE " + ", ".join(f"jobs.{n}" for n in names)))


def _drop(engine: Engine, names: list[str]) -> None:
    """DROP TABLE of a table's weeks, DROP_GROUP in a transaction: each takes an ACCESS EXCLUSIVE lock on the
    parent, once per group rather than once per week.

    DETACH PARTITION CONCURRENTLY would not lock the parent so, but PostgreSQL
    refuses it on a table with a DEFAULT partition.
    """
    for first in range(0, len(names), DROP_GROUP):
        _ddl(engine, functools.partial(_drop_group, names[first : first + DROP_GROUP]))


def drop_old(engine: Engine, table: Table, cutoff: datetime, result: Retained, last: date | None = None) -> None:
    """The table's weeks past ``cutoff`` (and none after the week of ``last``) archived, then dropped; a week
    holding a run still going is kept."""
    with engine.connect() as connection:
        weeks = partitions(connection, table)
    past = [
        (name, week)
        for name, week in sorted(weeks.items(), key=lambda kv: kv[1])
        if datetime.combine(week + timedelta(weeks=1), datetime.min.time(), UTC) <= cutoff
    ]
    old = [(name, week) for name, week in past if last is None or week <= last]
    result.left += len(past) - len(old)
    kept_runs = [name for name in result.kept if name.startswith(f"{RUNS.name}_p")]
    with engine.connect() as connection:
        # A run starting after this look has no row in a week past the retention (its steps, events and
        # fan-ins are dated by its start or later) but one: the tick of a backfill starting it this instant,
        # no longer queued, may go with its week. The run itself is untouched.
        running = {
            str(r.run_id): r.job
            for r in connection.execute(text("SELECT run_id, job FROM jobs.runs WHERE status = 'running'"))
        }
    going = []
    began = time.perf_counter()
    # Checked and archived without the parent's lock: no run starts in a week past the retention, so what is
    # checked here is still true at the drop.
    for name, week in old:
        with engine.begin() as connection:
            connection.execute(text(f"SET LOCAL work_mem = '{ARCHIVE_WORK_MEM}'"))
            why = _still_going(connection, table, name, running)
            if why is not None:
                result.kept[name] = why
                continue
            if table.name in ARCHIVES:
                result.archived[table.name] += _archive(connection, table, name, week, kept_runs)
        going.append(name)
    archived = time.perf_counter()
    _drop(engine, going)
    result.dropped += going
    logger.info(
        "ledger retention: %s: %d weeks checked and archived in %.2f s, %d dropped in %.2f s",
        table.name,
        len(old),
        archived - began,
        len(going),
        time.perf_counter() - archived,
    )


def _last_week_this_pass(engine: Engine, cutoff: datetime) -> date | None:
    """The newest week this pass may drop: the WEEKS_PER_PASS oldest weeks of runs past ``cutoff`` at most.

    Every table is held to the same weeks, so a failed run is archived in the
    pass that drops its steps and events, or before. A first pass over a long
    history (a year: 40 weeks of six tables, 27 GB of files, 17 s) is spread
    over as many daily passes as it needs, each short: removing a big
    partition's files holds its table's lock while they go. A week kept for
    a run still going counts among them: the pass drops one week fewer.
    """
    with engine.connect() as connection:
        weeks = sorted(partitions(connection, RUNS).items(), key=lambda kv: kv[1])
    past = [
        week for _, week in weeks if datetime.combine(week + timedelta(weeks=1), datetime.min.time(), UTC) <= cutoff
    ]
    return past[WEEKS_PER_PASS - 1] if len(past) > WEEKS_PER_PASS else None


def drop_old_archive(engine: Engine, cutoff: datetime, result: Retained) -> None:
    for archive in ARCHIVES.values():
        with engine.connect() as connection:
            months = partitions(connection, archive)
        for name, month in sorted(months.items(), key=lambda kv: kv[1]):
            if datetime.combine(next_month(month), datetime.min.time(), UTC) <= cutoff:
                _drop(engine, [name])
                result.dropped.append(name)


def retain(engine: Engine, *, retention_days: int, failure_retention_days: int) -> Retained:
    """One pass of the ledger's retention (see the module's doc); safe to run again at once."""
    result = Retained()
    with engine.connect() as guard:
        # One pass at a time: a second waits, then finds nothing left to do.
        guard.execute(text("SELECT pg_advisory_lock(hashtext('jobs-ledger-retention'))"))
        try:
            now: datetime = guard.execute(text("SELECT now()")).scalar_one()
            guard.commit()  # the lock is the session's: no transaction need stay open while the pass runs
            for table in LEDGER:
                move_default(engine, table, result)
            today = now.astimezone(UTC).date()
            result.created += make_weeks(engine, today, today + timedelta(weeks=WEEKS_AHEAD))
            cutoff = now - timedelta(days=retention_days)
            last = _last_week_this_pass(engine, cutoff)
            for table in LEDGER:
                drop_old(engine, table, cutoff, result, last)
            drop_old_archive(engine, now - timedelta(days=failure_retention_days), result)
        finally:
            guard.execute(text("SELECT pg_advisory_unlock(hashtext('jobs-ledger-retention'))"))
            guard.commit()
    logger.info("ledger retention: %s", result.describe())
    return result


def retention_job(queue: str, days: Callable[[], tuple[int, int]]) -> Job:
    """The runtime's own job: one ``retain`` pass; ``days`` gives (retention, failure retention) in days."""

    def run(ctx: StepContext) -> None:
        retention_days, failure_days = days()
        result = retain(ctx.engine, retention_days=retention_days, failure_retention_days=failure_days)
        ctx.count("partitions_created", len(result.created))
        ctx.count("partitions_dropped", len(result.dropped))
        ctx.count("partitions_kept", len(result.kept))
        ctx.count("rows_archived", sum(result.archived.values()))
        ctx.count("rows_moved", result.moved)
        ctx.count("partitions_left", result.left)
        if result.kept:
            # A one-step job: ending it here skips nothing, and the note shows beside the run.
            ctx.end_run("kept: " + "; ".join(f"{name}: {why}" for name, why in sorted(result.kept.items())))

    return Job(JOB, (Step("retain", run, time_limit=timedelta(minutes=10), max_retries=3),), queue=queue)


def retention_schedule() -> Schedule:
    return Schedule(
        JOB,
        cron=CRON,
        overlap=SKIP,
        catch_up=LATEST,
        title="Ledger retention",
        note="the runtime's own job: partitions ahead, weeks past the retention dropped, failures archived",
    )
