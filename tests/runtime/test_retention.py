"""Ledger retention (retention.py) on a real database: old weeks dropped whole, failures archived first,
a running run's weeks kept, weeks ahead made; and the runtime's own job run by a real worker."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.services import wait_for
from wrls_actors.runtime import (
    RETENTION_JOB,
    ConfigurationError,
    Job,
    Retained,
    Schedule,
    Service,
    Settings,
    Step,
    retain,
)
from wrls_actors.runtime.api import reads
from wrls_actors.runtime.retention import LEDGER, STEPS, WEEKS_AHEAD, WEEKS_PER_PASS, make_weeks, monday, week_name
from wrls_actors.runtime.runs import step_message_id


def add_history(service, status: str, days_ago: int, step_statuses=("succeeded",)) -> str:
    """A run of ``days_ago`` days with its steps, an event per step, its tick and a fan-in of one child, as the
    runtime writes them."""
    run_id = str(uuid.uuid4())
    at = datetime.now(UTC) - timedelta(days=days_ago)
    with service.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO jobs.runs (run_id, job, trigger, status, started_at, finished_at, error) "
                "VALUES (:r, 'pipeline', 'schedule', :s, :at, CASE WHEN :s = 'running' THEN NULL "
                "ELSE CAST(:at AS timestamptz) END, :error)"
            ),
            {"r": run_id, "s": status, "at": at, "error": "boom" if status == "failed" else None},
        )
        for index, step_status in enumerate(step_statuses):
            message_id = step_message_id(run_id, index)
            connection.execute(
                text(
                    "INSERT INTO jobs.steps (message_id, created_on, run_id, actor, queue, status, enqueued_at) "
                    "VALUES (:m, CAST(:at AS timestamptz)::date, :r, 'pipeline.first', 'short', :s, :at)"
                ),
                {"m": message_id, "r": run_id, "s": step_status, "at": at},
            )
            connection.execute(
                text(
                    "INSERT INTO jobs.events (at, kind, job, run_id, message_id) VALUES (:at, :k, 'pipeline', :r, :m)"
                ),
                {"at": at, "k": step_status, "r": run_id, "m": message_id},
            )
        connection.execute(
            text(
                "INSERT INTO jobs.ticks (schedule, nominal_time, outcome, run_id) VALUES ('pipeline', :at, 'ran', :r)"
            ),
            {"at": at, "r": run_id},
        )
        connection.execute(
            text(
                "INSERT INTO jobs.barriers (run_id, step_index, expected, arrived, run_started_at) "
                "VALUES (:r, 1, 1, 1, :at)"
            ),
            {"at": at, "r": run_id},
        )
        connection.execute(
            text(
                "INSERT INTO jobs.barrier_arrivals (run_id, step_index, message_id, failed, run_started_at) "
                "VALUES (:r, 1, :m, false, :at)"
            ),
            {"at": at, "r": run_id, "m": f"{run_id}-child"},
        )
    return run_id


def tables(service) -> set[str]:
    return {
        r.relname
        for r in query(
            service,
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace WHERE nspname = 'jobs'",
        )
    }


def test_old_weeks_go_failures_stay_in_the_archive_a_running_run_keeps_its_weeks(service):
    done = add_history(service, "succeeded", 200)
    failed = add_history(service, "failed", 200, ("succeeded", "failed"))
    going = add_history(service, "running", 150)
    ancient = add_history(service, "failed", 460, ("failed",))
    recent = add_history(service, "succeeded", 3)
    counters = query(service, "SELECT * FROM jobs.counters ORDER BY name, labels::text")

    result = retain(service.engine, retention_days=90, failure_retention_days=400)

    old_week = monday((datetime.now(UTC) - timedelta(days=200)).date())
    going_week = monday((datetime.now(UTC) - timedelta(days=150)).date())
    names = tables(service)
    for table in LEDGER:
        assert week_name(table, old_week) in result.dropped and week_name(table, old_week) not in names
        assert scalar(service, f"SELECT count(*) FROM jobs.{table.name}_default") == 0
        # The running run's weeks stay, and say why.
        assert going in result.kept[week_name(table, going_week)]
        for n in range(WEEKS_AHEAD + 1):
            assert week_name(table, monday(datetime.now(UTC).date()) + timedelta(weeks=n)) in names
    assert scalar(service, "SELECT count(*) FROM jobs.runs WHERE run_id IN (:a, :b)", a=done, b=failed) == 0
    assert scalar(service, "SELECT status FROM jobs.runs WHERE run_id = :r", r=going) == "running"
    assert scalar(service, "SELECT count(*) FROM jobs.steps WHERE run_id = :r", r=going) == 1
    assert scalar(service, "SELECT count(*) FROM jobs.runs WHERE run_id = :r", r=recent) == 1
    # The failed run, its failed step (not the one that succeeded) and its events are in the archive.
    assert result.archived == {"runs": 2, "steps": 2, "events": 3}
    assert [r.status for r in query(service, "SELECT status FROM jobs.archive_steps WHERE run_id = :r", r=failed)] == [
        "failed"
    ]
    # The archive's months past the failure retention went too.
    assert scalar(service, "SELECT count(*) FROM jobs.archive_runs WHERE run_id = :r", r=ancient) == 0
    assert query(service, "SELECT * FROM jobs.counters ORDER BY name, labels::text") == counters
    with service.engine.connect() as connection:
        detail = reads.run_detail(connection, failed, service.jobs)
    assert detail is not None and detail.status == "failed" and detail.error == "boom" and detail.archived
    # Of a failure the archive keeps the failed steps: the one that succeeded reads as not started.
    assert [s.status for s in detail.steps][:2] == ["not-started", "failed"]
    assert sorted(e.kind for e in detail.events) == ["failed", "succeeded"]

    again = retain(service.engine, retention_days=90, failure_retention_days=400)
    assert (again.created, again.dropped, again.archived, again.moved) == (
        [],
        [],
        {"runs": 0, "steps": 0, "events": 0},
        0,
    )
    assert again.kept == result.kept


def test_a_failed_runs_events_are_archived_while_its_week_is_kept_and_a_backfills_queued_ticks_stay(service):
    going = add_history(service, "running", 150)
    failed = add_history(service, "failed", 150, ("failed",))
    with service.engine.begin() as connection:
        # The running run's week of runs stays; its week of events holds only the failed run's.
        connection.execute(text("DELETE FROM jobs.events WHERE run_id = :r"), {"r": going})
        connection.execute(
            text("INSERT INTO jobs.events (at, kind, job, run_id) VALUES (:at, 'run-failed', 'pipeline', :r)"),
            {"at": datetime.now(UTC) - timedelta(days=150), "r": failed},
        )
        queued_at = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=200)
        connection.execute(
            text("INSERT INTO jobs.ticks (schedule, nominal_time, outcome) VALUES ('noop', :at, 'backfill-queued')"),
            {"at": queued_at},
        )

    result = retain(service.engine, retention_days=90, failure_retention_days=400)

    week = monday((datetime.now(UTC) - timedelta(days=150)).date())
    assert week_name(LEDGER[0], week) in result.kept and "events_" + f"p{week:%Y%m%d}" in result.dropped
    kinds = sorted(r.kind for r in query(service, "SELECT kind FROM jobs.archive_events WHERE run_id = :r", r=failed))
    assert kinds == ["failed", "run-failed"]
    queued_week = week_name(next(t for t in LEDGER if t.name == "ticks"), monday(queued_at.date()))
    assert "backfill's queued tick of noop" in result.kept[queued_week]
    assert scalar(service, "SELECT outcome FROM jobs.ticks WHERE nominal_time = :at", at=queued_at) == "backfill-queued"


def test_a_long_history_goes_a_few_weeks_a_pass_oldest_first_every_table_alike(service):
    runs = [add_history(service, "failed", 100 + 7 * n, ("failed",)) for n in range(WEEKS_PER_PASS + 2)]

    first = retain(service.engine, retention_days=90, failure_retention_days=400)

    assert len(first.dropped) == WEEKS_PER_PASS * len(LEDGER) and first.left == 2 * len(LEDGER)
    assert "12 past the retention left for the next pass" in first.describe()
    # The two newest weeks wait, with every row of theirs; the oldest are gone, their failures archived first.
    kept = {str(r.run_id) for r in query(service, "SELECT run_id FROM jobs.runs")}
    assert kept == set(runs[:2])
    for table in ("steps", "events", "ticks", "barriers", "barrier_arrivals"):
        assert {str(r.run_id) for r in query(service, f"SELECT run_id FROM jobs.{table}")} == kept, table
    assert scalar(service, "SELECT count(*) FROM jobs.archive_runs") == WEEKS_PER_PASS
    assert scalar(service, "SELECT count(*) FROM jobs.archive_events") == WEEKS_PER_PASS

    second = retain(service.engine, retention_days=90, failure_retention_days=400)

    assert len(second.dropped) == 2 * len(LEDGER) and second.left == 0
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 0
    assert scalar(service, "SELECT count(*) FROM jobs.archive_runs") == len(runs)


def test_a_drop_that_finds_its_table_busy_gives_way_and_tries_again_until_it_is_free(service, caplog):
    old_week = monday((datetime.now(UTC) - timedelta(days=200)).date())
    # Every week there, so that the reader below holds up only the drops.
    make_weeks(service.engine, old_week, datetime.now(UTC).date() + timedelta(weeks=WEEKS_AHEAD))
    add_history(service, "succeeded", 200)
    outcome: dict[str, object] = {}
    caplog.set_level(logging.INFO, logger="wrls_actors.runtime.retention")
    with service.engine.connect() as reader:
        # A reader's open transaction on the steps table: DROP needs it to end first.
        reader.execute(text("SELECT count(*) FROM jobs.steps"))

        def run() -> None:
            try:
                outcome["result"] = retain(service.engine, retention_days=90, failure_retention_days=400)
            except Exception as e:  # the assertion below names it
                outcome["error"] = e

        passing = threading.Thread(target=run)
        passing.start()
        wait_for(lambda: "the ledger is busy, trying again" in caplog.text, what="a drop giving way to the reader")
        reader.commit()
    passing.join(timeout=120)
    assert "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert isinstance(result, Retained)
    assert week_name(STEPS, old_week) in result.dropped
    assert week_name(STEPS, old_week) not in tables(service)


def test_the_runtime_s_own_job_runs_through_a_worker_like_any_job(service, processes, vhost):
    old = add_history(service, "succeeded", 200)
    processes("worker")
    wait_worker_ready(vhost, queue="control")
    run_id = service.trigger(RETENTION_JOB)
    run = wait_run_ended(service, run_id)
    assert run.status == "succeeded", run.error
    # A week of each of the six tables, which held the old run's one row each.
    assert run.counts["partitions_dropped"] == 6 and run.counts["rows_moved"] == 6
    assert set(run.counts) == {
        "partitions_created",
        "partitions_dropped",
        "partitions_kept",
        "rows_archived",
        "rows_moved",
        "partitions_left",
    }
    assert scalar(service, "SELECT count(*) FROM jobs.runs WHERE run_id = :r", r=old) == 0
    assert RETENTION_JOB in service.schedules


def test_the_runtime_s_own_job_is_in_every_service_and_its_name_is_refused_to_an_application():
    settings = Settings.from_env("WRLS", {})
    service = Service(settings, [Job("work", (Step("one", lambda ctx: None),))])
    assert RETENTION_JOB in service.jobs and service.schedules[RETENTION_JOB].cron == "10 3 * * *"
    with pytest.raises(ConfigurationError, match="job ledger-retention: the name of the runtime's own job"):
        Service(settings, [Job(RETENTION_JOB, (Step("one", lambda ctx: None),))])
    # An application may schedule it otherwise, and an operator switch its schedule off.
    moved = Service(settings, [], [Schedule(RETENTION_JOB, cron="0 5 * * *")])
    assert moved.schedules[RETENTION_JOB].cron == "0 5 * * *"
    off = Service(Settings.from_env("WRLS", {"WRLS_SCHEDULE_LEDGER_RETENTION": "off"}), [])
    assert not off.schedules[RETENTION_JOB].enabled
