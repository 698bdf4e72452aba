"""The ledger as the API shows it: runs page by page, one run whole, a schedule's last ticks.

Pages are keyset pages on (started_at, run_id), newest first: a page never
repeats or skips a run when new ones start while a client pages back.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, text

from ..child_ids import child_positions, messages_of
from ..cron import fire_times
from ..definitions import Job, Schedule
from ..runs import CHILDREN_CANCELLED, step_message_id
from .models import Action, ChildFailure, Event, FanOut, Pause, RunDetail, RunSummary, StepRun, Tick

MAX_FAILURES_SHOWN = 20
MAX_EVENTS_SHOWN = 200

_RUN_COLUMNS = (
    "r.run_id::text AS run_id, r.job, r.trigger, r.status, r.step_index, r.nominal_time, r.started_at, "
    f"r.finished_at, r.params, r.counts, r.children_failed, {CHILDREN_CANCELLED} AS children_cancelled, r.error, r.note"
)


class BadCursor(ValueError):
    """A cursor this service did not give out."""


def encode_cursor(started_at: datetime, run_id: str) -> str:
    raw = f"{started_at.astimezone(UTC).isoformat()}|{run_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, run_id = raw.split("|")
        at = datetime.fromisoformat(moment)
        run_id = str(UUID(run_id))
        if at.tzinfo is None:
            raise ValueError("no time zone")
        # In UTC, as this service writes them: PostgreSQL refuses an offset over 15:59 (a 500 it was).
        at = at.astimezone(UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError) as e:
        raise BadCursor("not a cursor this service gave out") from e
    return at, run_id


def summary(row: Any) -> RunSummary:
    return RunSummary(
        run_id=row.run_id,
        job=row.job,
        trigger=row.trigger,
        status=row.status,
        step_index=row.step_index,
        nominal_time=row.nominal_time,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_s=(row.finished_at - row.started_at).total_seconds() if row.finished_at else None,
        params=dict(row.params or {}),
        counts=dict(row.counts or {}),
        children_failed=row.children_failed,
        children_cancelled=row.children_cancelled,
        error=row.error,
        note=row.note,
    )


def runs_page(
    connection: Connection,
    *,
    job: str | None,
    status: str | None,
    trigger: str | None,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[RunSummary], str | None]:
    """One page of runs, newest first, and the cursor of the next page (None on the last)."""
    where = ["TRUE"]
    values: dict[str, Any] = {"limit": limit + 1}
    for column, value in (("job", job), ("status", status), ("trigger", trigger)):
        if value is not None:
            where.append(f"r.{column} = :{column}")
            values[column] = value
    if since is not None:
        where.append("r.started_at >= :since")
        values["since"] = since
    if until is not None:
        where.append("r.started_at < :until")
        values["until"] = until
    if cursor is not None:
        values["after_at"], values["after_id"] = decode_cursor(cursor)
        where.append("(r.started_at, r.run_id) < (:after_at, CAST(:after_id AS uuid))")
    rows = connection.execute(
        text(
            f"SELECT {_RUN_COLUMNS} FROM jobs.runs r WHERE {' AND '.join(where)} "
            # The table's uuid, not the text column of the same name: the cursor compares uuids.
            "ORDER BY r.started_at DESC, r.run_id DESC LIMIT :limit"
        ),
        values,
    ).all()
    page = [summary(r) for r in rows[:limit]]
    more = len(rows) > limit
    return page, encode_cursor(page[-1].started_at, page[-1].run_id) if more and page else None


def last_runs(connection: Connection, jobs: list[str]) -> dict[str, RunSummary]:
    # One probe of runs_job_started per job: DISTINCT ON read every run of every job (3 million in a year).
    # A range of one job, ordered by (job, started_at): only runs_job_started gives that order. With
    # `job = j.job` the planner drops job from the order and, the runs being partitioned by week, may
    # walk each week's runs_started instead, past every run of the other jobs (370 ms on 60 days, not 2).
    rows = connection.execute(
        text(
            f"SELECT {_RUN_COLUMNS} FROM unnest(CAST(:jobs AS text[])) AS j(job) CROSS JOIN LATERAL "
            "(SELECT * FROM jobs.runs WHERE job >= j.job AND job <= j.job ORDER BY job, started_at DESC LIMIT 1) r"
        ),
        {"jobs": jobs},
    ).all()
    return {r.job: summary(r) for r in rows}


def run_detail(connection: Connection, run_id: str, jobs: Mapping[str, Job]) -> RunDetail | None:
    """The run as the ledger has it, or, once its week is dropped, as the archive kept it (a failure)."""
    archived = False
    row = connection.execute(
        text(f"SELECT {_RUN_COLUMNS} FROM jobs.runs r WHERE r.run_id = CAST(:run AS uuid)"), {"run": run_id}
    ).first()
    if row is None:
        row = connection.execute(
            text(f"SELECT {_RUN_COLUMNS} FROM jobs.archive_runs r WHERE r.run_id = CAST(:run AS uuid)"), {"run": run_id}
        ).first()
        if row is None:
            return None
        archived = True
    prefix = "archive_" if archived else ""
    job = jobs.get(row.job)
    steps = _steps(connection, run_id, job, f"jobs.{prefix}steps") if job is not None else []
    events = [
        Event(
            at=e.at,
            kind=e.kind,
            actor=e.actor,
            message_id=e.message_id,
            detail=e.detail,
            operator=e.operator,
            reason=e.reason,
        )
        for e in connection.execute(
            text(
                f"SELECT at, kind, actor, message_id, detail, operator, reason FROM jobs.{prefix}events "
                "WHERE run_id = CAST(:run AS uuid) "
                "ORDER BY id LIMIT :limit"
            ),
            {"run": run_id, "limit": MAX_EVENTS_SHOWN},
        ).all()
    ]
    return RunDetail(**summary(row).model_dump(), steps=steps, events=events, archived=archived)


def _steps(connection: Connection, run_id: str, job: Job, table: str) -> list[StepRun]:
    ids = [step_message_id(run_id, index) for index in range(len(job.steps))]
    rows = {
        r.message_id: r
        for r in connection.execute(
            text(
                "SELECT message_id, actor, queue, status, attempt, deliveries, enqueued_at, started_at, "
                f"finished_at, duration_ms, stalls, timeouts, error FROM {table} WHERE message_id = ANY(:ids)"
            ),
            {"ids": ids},
        ).all()
    }
    barriers = {
        b.step_index: b
        for b in connection.execute(
            text(
                "SELECT step_index, expected, arrived, failed, counts, fired_at, chunk FROM jobs.barriers "
                "WHERE run_id = CAST(:run AS uuid)"
            ),
            {"run": run_id},
        ).all()
    }
    result = []
    for index, step in enumerate(job.steps):
        r = rows.get(ids[index])
        fan_out = None
        barrier = barriers.get(index)
        if step.fan_out is not None and barrier is not None:
            fan_out = FanOut(
                step=step.fan_out.name,
                expected=barrier.expected,
                arrived=barrier.arrived,
                failed=barrier.failed,
                counts=dict(barrier.counts or {}),
                fired_at=barrier.fired_at,
                failures=_failures(connection, run_id, index, barrier.expected, barrier.chunk)
                if barrier.failed
                else [],
            )
        result.append(
            StepRun(
                index=index,
                name=step.name,
                actor=job.actor_name(step),
                queue=r.queue if r else job.queue_of(step),
                status=r.status if r else "not-started",
                attempt=r.attempt if r else None,
                deliveries=r.deliveries if r else None,
                enqueued_at=r.enqueued_at if r else None,
                started_at=r.started_at if r else None,
                finished_at=r.finished_at if r else None,
                duration_ms=r.duration_ms if r else None,
                stalls=r.stalls if r else None,
                timeouts=r.timeouts if r else None,
                error=r.error if r else None,
                fan_out=fan_out,
            )
        )
    return result


def _failures(connection: Connection, run_id: str, index: int, expected: int, chunk: int) -> list[ChildFailure]:
    """The first failed items of a fan-out, in their order: each with its item and error."""
    rows = connection.execute(
        text(
            "SELECT a.message_id, a.failed, a.failures, coalesce(s.error, (SELECT e.detail FROM jobs.events e "
            "WHERE e.message_id = a.message_id ORDER BY e.id DESC LIMIT 1)) AS error "
            "FROM jobs.barrier_arrivals a LEFT JOIN jobs.steps s ON s.message_id = a.message_id "
            "WHERE a.run_id = CAST(:run AS uuid) AND a.step_index = :index AND a.failed_items > 0 "
            "ORDER BY a.arrived_at LIMIT :limit"
        ),
        {"run": run_id, "index": index, "limit": MAX_FAILURES_SHOWN},
    ).all()
    failures: list[ChildFailure] = []
    unnamed = {}
    for row in rows:
        if not row.failures:
            unnamed[row.message_id] = row.error  # failed before arrivals named their items
            continue
        for failure in row.failures:
            error = row.error if row.failed and row.error else failure.get("error")
            failures.append(ChildFailure(position=failure.get("position"), item=failure.get("item"), error=error))
    positions = child_positions(run_id, index, messages_of(expected, chunk), unnamed)
    failures += [ChildFailure(position=p * chunk, item=None, error=unnamed[m]) for m, p in positions.items()]
    failures.sort(key=lambda f: (f.position is None, f.position or 0))
    return failures[:MAX_FAILURES_SHOWN]


def last_ticks(connection: Connection, schedule: str, limit: int) -> list[Tick]:
    rows = connection.execute(
        text(
            "SELECT nominal_time, outcome, claimed_at, lag_s, run_id::text AS run_id, duplicates, detail "
            "FROM jobs.ticks WHERE schedule = :schedule ORDER BY nominal_time DESC LIMIT :limit"
        ),
        {"schedule": schedule, "limit": limit},
    ).all()
    return [
        Tick(
            nominal_time=r.nominal_time,
            outcome=r.outcome,
            claimed_at=r.claimed_at,
            lag_s=r.lag_s,
            run_id=r.run_id,
            duplicates=r.duplicates,
            detail=r.detail,
        )
        for r in rows
    ]


def schedule_actions(connection: Connection, schedule: str, limit: int) -> list[Action]:
    rows = connection.execute(
        text(
            "SELECT at, kind, operator, reason FROM jobs.events WHERE schedule = :s AND operator IS NOT NULL "
            "ORDER BY id DESC LIMIT :limit"
        ),
        {"s": schedule, "limit": limit},
    ).all()
    return [Action(at=r.at, kind=r.kind, operator=r.operator, reason=r.reason) for r in rows]


def pauses(connection: Connection) -> dict[str, Pause]:
    rows = connection.execute(text("SELECT schedule, paused_at, operator, reason FROM jobs.schedule_pauses")).all()
    return {r.schedule: Pause(since=r.paused_at, operator=r.operator, reason=r.reason) for r in rows}


def next_ticks(schedule: Schedule, tz: Any, now: datetime, count: int) -> list[datetime]:
    """The next ``count`` nominal times after ``now``, looking at most 400 days ahead."""
    if not schedule.enabled:
        return []
    found: list[datetime] = []
    start, span, horizon = now, timedelta(hours=1), now + timedelta(days=400)
    # Windows one after the other, each twice as long as the last: an every-15-seconds schedule fills the list in
    # the first hour, a yearly cron needs a year. fire_times lists every time of its window, so none is listed
    # twice and a dense schedule is not listed for a year.
    while len(found) < count and start < horizon:
        end = min(start + span, horizon)
        found += fire_times(schedule, start, end, tz)
        start, span = end, span * 2
    return found[:count]
