"""PostgreSQL access: one engine per process, migrations, and counter bumps."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text

logger = logging.getLogger(__name__)

_engines: dict[tuple[int, str], Engine] = {}
_lock = threading.Lock()


def sqlalchemy_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and pin the psycopg2 driver."""
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+psycopg2://" + url[len(plain) :]
    return url


def engine_for(url: str) -> Engine:
    """One engine per process and URL: forked worker processes must not share sockets."""
    key = (os.getpid(), url)
    engine = _engines.get(key)  # without the lock first: every step asks, and after the first it is there
    if engine is not None:
        return engine
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = create_engine(
                sqlalchemy_url(url),
                pool_size=10,
                max_overflow=20,
                # No pre-ping: it costs a round trip per checkout. After a database
                # restart the first failing statement invalidates the whole pool,
                # and the step (or the ledger writer) tries again.
                pool_recycle=300,
                connect_args={"connect_timeout": 10, "application_name": "wrls-actors"},
            )
            event.listen(engine, "connect", _without_jit)
            _engines[key] = engine
        return engine


def _without_jit(dbapi_connection: Any, _record: Any) -> None:
    """JIT off for the service's sessions.

    PostgreSQL compiles a statement whose estimated cost passes
    ``jit_above_cost``, and a statement over the ledger's weekly partitions
    can be estimated so from the partitions' sizes alone: the stall sweep,
    which reads a handful of rows, spent 6 s compiling 855 functions on a
    year's ledger. The service's statements are short, and its set-based
    imports are bound by writes, not by expression evaluation.
    """
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.commit()


def upgrade(engine: Engine) -> None:
    """Bring the ledger schema to the newest migration (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        # Two processes upgrading at once must not both create the schema.
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('jobs-ledger-migrations'))"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def labels_json(labels: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"))


_BUMP = text(
    "INSERT INTO jobs.counters (name, labels, value) VALUES (:name, CAST(:labels AS jsonb), :delta) "
    "ON CONFLICT (name, labels) DO UPDATE SET value = jobs.counters.value + EXCLUDED.value"
)
_SET_MAX = text(
    "INSERT INTO jobs.counters (name, labels, value) VALUES (:name, CAST(:labels AS jsonb), :value) "
    "ON CONFLICT (name, labels) DO UPDATE SET value = greatest(jobs.counters.value, EXCLUDED.value)"
)


def bump(connection: Connection, name: str, labels: Mapping[str, str], delta: float = 1) -> None:
    """Add ``delta`` to a counter, inside the caller's transaction."""
    connection.execute(_BUMP, {"name": name, "labels": labels_json(labels), "delta": delta})


# Why an operator acted, as the CLI, the API and the console take it: kept in jobs.events.reason.
MAX_REASON_CHARS = 500

_ACTION = text(
    "INSERT INTO jobs.events (kind, job, schedule, run_id, detail, operator, reason) "
    "VALUES (:kind, :job, :schedule, CAST(:run_id AS uuid), :detail, :operator, :reason)"
)


def record_action(
    connection: Connection,
    kind: str,
    *,
    operator: str | None,
    detail: str,
    reason: str | None = None,
    job: str | None = None,
    schedule: str | None = None,
    run_id: str | None = None,
) -> None:
    """An operator's action in jobs.events (who, what, why, when), inside the caller's transaction."""
    connection.execute(
        _ACTION,
        {
            "kind": kind,
            "job": job,
            "schedule": schedule,
            "run_id": run_id,
            "detail": detail,
            "operator": operator,
            "reason": reason,
        },
    )


def set_max(connection: Connection, name: str, labels: Mapping[str, str], value: float) -> None:
    """Raise a gauge-like counter (e.g. a last-success timestamp) to ``value``."""
    connection.execute(_SET_MAX, {"name": name, "labels": labels_json(labels), "value": value})
