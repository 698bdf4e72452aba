"""The ledger's migrations on a ledger that already has rows: 0009 partitions it in place, and back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from tests.support import services as svc
from tests.support.sample_app import JOBS
from wrls_actors.runtime import database
from wrls_actors.runtime.api import reads
from wrls_actors.runtime.database import engine_for
from wrls_actors.runtime.ledger_view import LedgerView
from wrls_actors.runtime.runs import step_message_id

TABLES = ("runs", "steps", "events", "ticks", "barriers", "barrier_arrivals", "counters")


def migrate(engine, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(database.__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


@pytest.fixture
def empty_engine():
    svc.require(5432, "PostgreSQL")
    name = svc.create_database()
    engine = engine_for(svc.database_url(name))
    yield engine
    engine.dispose()
    svc.drop_database(name)


def fill_0008(connection) -> dict[str, str]:
    """Rows of every kind as today's code writes them, over the last 100 days."""
    now = datetime.now(UTC)
    runs = {}
    for days, status in ((100, "succeeded"), (60, "failed"), (30, "completed-with-failures"), (0, "running")):
        run_id = str(uuid.uuid4())
        runs[status] = run_id
        started = now - timedelta(days=days, minutes=5)
        connection.execute(
            text(
                "INSERT INTO jobs.runs (run_id, job, trigger, trigger_key, status, step_index, started_at, "
                "finished_at, counts, children_failed, error, note) VALUES (:r, 'pipeline', 'message', :key, :s, 1, "
                ":at, CASE WHEN :s = 'running' THEN NULL ELSE CAST(:at AS timestamptz) + interval '1 minute' END, "
                "'{\"records\": 3}', :cf, :err, NULL)"
            ),
            {
                "r": run_id,
                "key": f"key-{days}",
                "s": status,
                "at": started,
                "cf": 1 if status == "completed-with-failures" else 0,
                "err": "boom" if status == "failed" else None,
            },
        )
        for index in (0, 1):
            connection.execute(
                text(
                    "INSERT INTO jobs.steps (message_id, run_id, actor, queue, attempt, deliveries, rank, status, "
                    "enqueued_at, started_at, finished_at, duration_ms, worker, error) VALUES "
                    "(:m, :r, :actor, 'default', 1, 1, 2, :s, :at, :at, :at, 12.5, 'host:1', :err)"
                ),
                {
                    "m": step_message_id(run_id, index),
                    "r": run_id,
                    "actor": f"pipeline.step{index}",
                    "s": "failed" if status == "failed" and index == 1 else "succeeded",
                    "at": started + timedelta(seconds=index),
                    "err": "boom" if status == "failed" and index == 1 else None,
                },
            )
        connection.execute(
            text(
                "INSERT INTO jobs.events (at, kind, job, run_id, message_id, detail) "
                "VALUES (:at, :kind, 'pipeline', :r, :m, 'detail')"
            ),
            {"at": started, "kind": "failed", "r": run_id, "m": step_message_id(run_id, 1)},
        )
        connection.execute(
            text(
                "INSERT INTO jobs.ticks (schedule, nominal_time, outcome, run_id) VALUES ('pipeline', :at, 'ran', :r)"
            ),
            {"at": started, "r": run_id},
        )
        connection.execute(
            text(
                "INSERT INTO jobs.barriers (run_id, step_index, expected, arrived, created_at) VALUES (:r, 1, 2, 2, :at)"
            ),
            {"r": run_id, "at": started},
        )
        connection.execute(
            text(
                "INSERT INTO jobs.barrier_arrivals (run_id, step_index, message_id, failed, arrived_at) "
                "VALUES (:r, 1, :m, false, :at)"
            ),
            {"r": run_id, "m": f"{run_id}-child", "at": started},
        )
    connection.execute(
        text(
            "INSERT INTO jobs.events (kind, actor, message_id, detail, operator, reason) "
            "VALUES ('replayed', 'pipeline.step1', 'replayed-message', 'replayed', 'ops', 'fixed')"
        )
    )
    connection.execute(text("INSERT INTO jobs.counters (name, labels, value) VALUES ('runs_total', '{}', 4)"))
    return runs


def counts(connection) -> dict[str, int]:
    return {t: connection.execute(text(f"SELECT count(*) FROM jobs.{t}")).scalar() for t in TABLES}


def test_0009_partitions_a_filled_ledger_in_place_and_back(empty_engine):
    migrate(empty_engine, "0008")
    with empty_engine.begin() as connection:
        runs = fill_0008(connection)
        before = counts(connection)
        rows_before = {
            t: connection.execute(text(f"SELECT * FROM jobs.{t} ORDER BY 1, 2")).all()
            for t in ("runs", "events", "ticks")
        }
    migrate(empty_engine, "head")
    with empty_engine.connect() as connection:
        assert counts(connection) == before
        for table, rows in rows_before.items():
            assert connection.execute(text(f"SELECT * FROM jobs.{table} ORDER BY 1, 2")).all() == rows, table
        partitioned = connection.execute(
            text(
                "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace WHERE nspname = 'jobs' AND relkind = 'p'"
            )
        ).scalars()
        assert {"runs", "steps", "events", "ticks", "barriers", "barrier_arrivals"} <= set(partitioned)
        # A fan-in is in its run's week.
        assert not connection.execute(
            text(
                "SELECT 1 FROM jobs.barrier_arrivals a JOIN jobs.runs r USING (run_id) "
                "WHERE a.run_started_at <> r.started_at"
            )
        ).all()
        # The 100-day-old rows sit in their own week, not in the default partition.
        assert connection.execute(text("SELECT count(*) FROM jobs.runs_default")).scalar() == 0
        assert connection.execute(text("SELECT count(*) FROM jobs.steps_default")).scalar() == 0
        assert connection.execute(text("SELECT count(*) FROM jobs.replays")).scalar() == 1
        jobs = {j.name: j for j in JOBS}
        for status, run_id in runs.items():
            detail = reads.run_detail(connection, run_id, jobs)
            assert detail is not None and detail.status == status
            assert [s.status for s in detail.steps][:2] == [
                "succeeded",
                "failed" if status == "failed" else "succeeded",
            ]
            assert [e.kind for e in detail.events] == ["failed"]
        page, _ = reads.runs_page(
            connection, job=None, status=None, trigger=None, since=None, until=None, cursor=None, limit=10
        )
        assert [r.run_id for r in page] == [
            runs[s] for s in ("running", "completed-with-failures", "failed", "succeeded")
        ]
    view = LedgerView(empty_engine)
    assert view.run(uuid.UUID(runs["failed"])).status == "failed"
    # New rows go on being written where the old ones were.
    with empty_engine.begin() as connection:
        connection.execute(text("INSERT INTO jobs.events (kind, detail) VALUES ('rejected', 'new')"))
    migrate(empty_engine, "0008", down=True)
    with empty_engine.connect() as connection:
        after = counts(connection)
        assert after == {**before, "events": before["events"] + 1}
        for table in ("runs", "ticks"):
            assert connection.execute(text(f"SELECT * FROM jobs.{table} ORDER BY 1, 2")).all() == rows_before[table]
        relkinds = connection.execute(
            text(
                "SELECT relkind FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace WHERE nspname = 'jobs' AND relname = 'steps'"
            )
        ).scalar()
        assert relkinds == "r"
