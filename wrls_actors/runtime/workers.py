"""Worker processes in the ledger: who they are, which queues they consume, their last heartbeat.

Each worker process is ``hostname:pid``. Its heartbeat thread (heartbeats.py)
registers it when the worker boots, beats every ``WRLS_HEARTBEAT_S`` and marks
it stopped on a clean shutdown; a killed process just stops beating, which is
what ``state`` reads as ``gone``. The same identity is written on each step it
starts (``jobs.steps.worker``, by starts.py), so a stall names its worker.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, Engine, text

ALIVE, STOPPED, GONE = "alive", "stopped", "gone"


def identity() -> str:
    """This process's worker id, ``hostname:pid`` (read each time: a forked process has its own pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def register(engine: Engine, queues: Iterable[str]) -> str:
    """Record this process as a worker consuming ``queues``, started now; returns its id."""
    worker_id = identity()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO jobs.workers (worker_id, hostname, pid, queues) VALUES (:id, :host, :pid, :queues) "
                "ON CONFLICT (worker_id) DO UPDATE SET queues = EXCLUDED.queues, started_at = now(), "
                "heartbeat_at = now(), stopped_at = NULL"
            ),
            {"id": worker_id, "host": socket.gethostname(), "pid": os.getpid(), "queues": sorted(set(queues))},
        )
    return worker_id


def beat(engine: Engine, worker_id: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE jobs.workers SET heartbeat_at = now() WHERE worker_id = :id"), {"id": worker_id}
        )


def stopped(engine: Engine, worker_id: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE jobs.workers SET heartbeat_at = now(), stopped_at = now() WHERE worker_id = :id"),
            {"id": worker_id},
        )


@dataclasses.dataclass(frozen=True)
class Worker:
    worker_id: str
    hostname: str
    pid: int
    queues: list[str]
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    heartbeat_age_s: float
    state: str  # alive, stopped, or gone (no heartbeat for stall_after_s)


def workers(connection: Connection, *, stall_after_s: float, stopped_for_s: float = 86_400) -> list[Worker]:
    """Every worker alive, gone, or stopped within ``stopped_for_s`` (a day by default), newest first."""
    rows = connection.execute(
        text(
            "SELECT worker_id, hostname, pid, queues, started_at, heartbeat_at, stopped_at, "
            "  extract(epoch FROM now() - heartbeat_at) AS age FROM jobs.workers "
            "WHERE stopped_at IS NULL OR stopped_at > now() - make_interval(secs => :kept) "
            "ORDER BY started_at DESC, worker_id"
        ),
        {"kept": stopped_for_s},
    )
    found = []
    for r in rows:
        state = STOPPED if r.stopped_at is not None else GONE if r.age > stall_after_s else ALIVE
        found.append(
            Worker(
                worker_id=r.worker_id,
                hostname=r.hostname,
                pid=r.pid,
                queues=list(r.queues),
                started_at=r.started_at,
                heartbeat_at=r.heartbeat_at,
                stopped_at=r.stopped_at,
                heartbeat_age_s=max(0.0, float(r.age)),
                state=state,
            )
        )
    return found
