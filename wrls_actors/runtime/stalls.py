"""Heartbeats of running steps, and the sweep that finds stalled ones.

A step is stalled when its worker stopped heartbeating (killed, frozen) or when
it is still running well past its time limit (hung in a blocking call that the
time limit cannot interrupt: the heartbeat thread of a live process keeps
beating, so only the second rule catches it). Sweeping is idempotent, so every
worker process may do it.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import Connection, Engine, text

from .database import bump


def heartbeat(engine: Engine, message_ids: list[str]) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE jobs.steps SET heartbeat_at = now() WHERE message_id = ANY(:ids) AND status = 'running'"),
            {"ids": message_ids},
        )


def record_stall(
    connection: Connection, job: str | None, actor: str, queue: str, run_id: str | None, message_id: str, detail: str
) -> None:
    connection.execute(
        text(
            "INSERT INTO jobs.events (kind, job, actor, queue, run_id, message_id, detail) "
            "VALUES ('stalled', :job, :actor, :queue, :run_id, :message_id, :detail)"
        ),
        {"job": job, "actor": actor, "queue": queue, "run_id": run_id, "message_id": message_id, "detail": detail},
    )
    bump(connection, "steps_stalled_total", {"actor": actor, "queue": queue})


SWEEP = text(
    """
    UPDATE jobs.steps SET status = 'stalled', rank = 2, stalls = stalls + 1,
        error = CASE WHEN coalesce(heartbeat_at, started_at) < now() - make_interval(secs => :stall_after)
                     THEN 'no heartbeat for ' || :stall_after || 's (worker gone or frozen)'
                     ELSE 'still running ' || :grace || 's past its time limit (hung in a blocking call)' END
    WHERE status = 'running' AND (
        coalesce(heartbeat_at, started_at) < now() - make_interval(secs => :stall_after)
        OR (time_limit_ms IS NOT NULL
            AND started_at + make_interval(secs => time_limit_ms / 1000.0 + :grace) < now()))
      -- A child whose arrival is durable has ended, even if its worker died before its ledger row said so.
      -- Looked up late step by late step (OFFSET 0 keeps it a subplan): as an anti-join the planner may
      -- hash every week's arrivals first, 71 million rows a year, minutes of work at every sweep.
      AND NOT EXISTS (SELECT 1 FROM jobs.barrier_arrivals a
                      WHERE a.run_id = jobs.steps.run_id AND a.message_id = jobs.steps.message_id OFFSET 0)
    RETURNING message_id, run_id, actor, queue, error
    """
)


def sweep(engine: Engine, stall_after_s: float, grace_s: float) -> int:
    """Mark stalled steps; returns how many were found."""
    with engine.begin() as connection:
        rows = connection.execute(SWEEP, {"stall_after": stall_after_s, "grace": grace_s}).all()
        for row in rows:
            job = row.actor.rsplit(".", 1)[0]
            record_stall(
                connection, job, row.actor, row.queue, row.run_id and str(row.run_id), row.message_id, row.error
            )
    return len(rows)


@dataclasses.dataclass(frozen=True)
class LateStep:
    message_id: str
    run_id: str | None
    actor: str
    queue: str
    status: str  # stalled (swept), or running with a heartbeat older than late_after_s
    worker: str | None
    started_at: datetime | None
    heartbeat_at: datetime | None
    age_s: float  # since its last heartbeat (or its start, if it never beat)
    stalls: int
    error: str | None


LATE = text(
    """
    SELECT message_id, run_id, actor, queue, status, worker, started_at, heartbeat_at, stalls, error,
           extract(epoch FROM now() - coalesce(heartbeat_at, started_at)) AS age
    FROM jobs.steps
    WHERE status = 'stalled'
       OR (status = 'running' AND coalesce(heartbeat_at, started_at) < now() - make_interval(secs => :late))
    ORDER BY coalesce(heartbeat_at, started_at), message_id
    LIMIT :limit
    """
)


def late_steps(connection: Connection, *, late_after_s: float, limit: int = 500) -> list[LateStep]:
    """Steps stalled, or running without a heartbeat for ``late_after_s`` (not yet swept), oldest first.

    Reads the partial index on running and stalled steps, so it stays cheap on a large ledger.
    """
    if late_after_s <= 0:
        raise ValueError(f"late_after_s must be above 0, got {late_after_s}")
    if not 1 <= limit <= 10_000:
        raise ValueError(f"limit must be 1 to 10000, got {limit}")
    rows = connection.execute(LATE, {"late": late_after_s, "limit": limit})
    return [
        LateStep(
            message_id=r.message_id,
            run_id=str(r.run_id) if r.run_id else None,
            actor=r.actor,
            queue=r.queue,
            status=r.status,
            worker=r.worker,
            started_at=r.started_at,
            heartbeat_at=r.heartbeat_at,
            age_s=max(0.0, float(r.age or 0)),
            stalls=r.stalls,
            error=r.error,
        )
        for r in rows
    ]
