"""What a step may ask its context (definitions.StepContext, ledger_view, calendar, waiting): other runs,
ticks, schedules as the service runs them, and retrying later."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from tests.support.helpers import query, wait_run_ended, wait_worker_ready
from wrls_actors.runtime import (
    Calendar, LedgerView, PermanentError, RetryLater, Schedule, Service, Settings, StepContext, wait_in_slices,
)

NIGHT = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)  # 01:00 in London (GMT)


def add_run(service, job: str, *, status: str = "running", step_index: int = 0,
            started: str = "now()", nominal: datetime | None = None) -> str:
    with service.engine.begin() as connection:
        return connection.execute(
            text(f"INSERT INTO jobs.runs (run_id, job, trigger, nominal_time, status, step_index, started_at) "
                 f"VALUES (gen_random_uuid(), :job, 'cli', :nominal, :status, :step, {started}) "
                 "RETURNING run_id::text"),
            {"job": job, "nominal": nominal, "status": status, "step": step_index}).scalar_one()


def context(service, run_id: str) -> StepContext:
    return StepContext(run_id=uuid.UUID(run_id), job="waiter", step="wait", params={}, message_id="m", attempt=1,
                       logger=logging.LoggerAdapter(logging.getLogger("test"), {}), engine=service.engine,
                       calendar=service.calendar)


def test_a_step_sees_its_run_and_the_runs_of_another_job(service):
    ours = add_run(service, "waiter", nominal=NIGHT, started="now() - interval '90 seconds'")
    ctx = context(service, ours)
    run = ctx.run()
    assert (run.run_id, run.job, run.status, run.nominal_time) == (ours, "waiter", "running", NIGHT)
    assert 90 <= run.age_s < 3600
    assert ctx.is_running("loader") is None
    add_run(service, "loader", status="succeeded")
    later = add_run(service, "loader", step_index=2)
    first = add_run(service, "loader", started="now() - interval '1 minute'")
    assert ctx.is_running("loader").run_id == first
    assert [r.run_id for r in ctx.ledger.running("loader")] == [first, later]
    assert ctx.is_running("loader", at_step=2).run_id == later
    assert ctx.is_running("loader", at_step=1) is None
    with pytest.raises(LookupError, match="is not in the ledger"):
        context(service, str(uuid.uuid4())).run()


def test_ticks_claimed_last_starts_and_event_counts_read_as_plain_data(service):
    ledger = LedgerView(service.engine)
    assert not ledger.tick_claimed("loader", NIGHT)
    with service.engine.begin() as connection:
        connection.execute(text("INSERT INTO jobs.ticks (schedule, nominal_time, outcome) "
                                "VALUES ('loader', :n, 'skipped')"), {"n": NIGHT})
        connection.execute(text("INSERT INTO jobs.events (kind, job, at) VALUES ('failed', 'loader', :a), "
                                "('failed', 'loader', :b), ('stalled', 'other', :a), ('failed', 'loader', :c)"),
                           {"a": NIGHT, "b": NIGHT + timedelta(hours=1), "c": NIGHT + timedelta(days=1)})
    assert ledger.tick_claimed("loader", NIGHT) and not ledger.tick_claimed("loader", NIGHT + timedelta(days=1))

    done = add_run(service, "loader", status="succeeded", started="now() - interval '2 hours'")
    add_run(service, "loader", status="failed", started="now() - interval '1 hour'")
    done_at = ledger.run(done).started_at
    now = datetime.now(timezone.utc)
    assert ledger.last_started("loader", now, status="succeeded") == done_at
    assert ledger.last_started("loader", now) > done_at
    assert ledger.last_started("loader", done_at) is None

    counts = ledger.event_counts(NIGHT, NIGHT + timedelta(hours=2), ["failed"])
    assert [(c.job, c.kind, c.count, c.first, c.last) for c in counts] == [
        ("loader", "failed", 2, NIGHT, NIGHT + timedelta(hours=1))]


def test_a_step_asks_when_a_schedule_fires_as_the_service_runs_it():
    schedules = (Schedule("loader", cron="0 1 * * *"), Schedule("often", every=timedelta(minutes=15)))
    calendar = Service(Settings.from_env("APP", {}), (), schedules).calendar
    assert calendar.fires_at("loader", NIGHT)
    assert calendar.fires_at("loader", datetime(2026, 7, 6, 0, 0, tzinfo=timezone.utc))  # 01:00 in summer time
    assert not calendar.fires_at("loader", NIGHT + timedelta(hours=3))
    assert not calendar.fires_at("loader", None) and not calendar.fires_at("unknown", NIGHT)
    assert calendar.next_fire("loader", NIGHT) == NIGHT + timedelta(days=1)
    assert calendar.previous_fire("loader", NIGHT + timedelta(hours=5)) == NIGHT
    assert calendar.next_fire("often", NIGHT) == NIGHT + timedelta(minutes=15)

    overridden = Service(Settings.from_env("APP", {"APP_SCHEDULE_LOADER": "0 4 * * *"}), (), schedules).calendar
    assert overridden.fires_at("loader", NIGHT.replace(hour=4)) and not overridden.fires_at("loader", NIGHT)
    off = Service(Settings.from_env("APP", {"APP_SCHEDULE_LOADER": "off"}), (), schedules).calendar
    assert not off.fires_at("loader", NIGHT) and off.next_fire("loader", NIGHT) is None
    assert not StepContext(uuid.uuid4(), "j", "s", {}, "m", 1, logging.LoggerAdapter(logging.getLogger(), {}),
                           calendar=None).fires_at("loader", NIGHT)
    assert Calendar().next_fire("loader", NIGHT) is None


def test_a_wait_goes_on_in_retries_until_its_bound_from_the_runs_start():
    blocked = iter(["a", "a", "b", None])
    seen = []
    waited = wait_in_slices(lambda: next(blocked), lambda: 5.0, bound_s=60, poll_s=0.01, on_wait=seen.append,
                            timed_out=lambda b, age: PermanentError(f"{b} after {age}"))
    assert (waited.run_age_s, waited.waited_here, waited.awaited, seen) == (5.0, True, "b", ["a", "b"])

    with pytest.raises(RetryLater, match="still waiting for a after 5s; the wait goes on in a retry") as retry:
        wait_in_slices(lambda: "a", lambda: 5.0, bound_s=60, poll_s=2, slice_s=0, timed_out=PermanentError)
    assert retry.value.delay == 2000
    with pytest.raises(PermanentError, match="a after 61"):
        wait_in_slices(lambda: "a", lambda: 61.0, bound_s=60,
                       timed_out=lambda b, age: PermanentError(f"{b} after {age:.0f}"))
    assert wait_in_slices(lambda: None, lambda: 1.0, bound_s=60, timed_out=PermanentError).waited_here is False


def test_retry_later_runs_the_step_again_after_its_delay_without_failing_the_run(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run = wait_run_ended(service, service.trigger("patient"))
    assert run.status == "succeeded", run.error
    assert run.counts == {"waited_attempts": 2, "records": 1}
    service.ledger.flush()
    steps = query(service, "SELECT actor, status, attempt FROM jobs.steps WHERE run_id = :r ORDER BY enqueued_at",
                  r=str(run.run_id))
    assert [(s.actor, s.status, s.attempt) for s in steps] == [("patient.wait", "succeeded", 3),
                                                               ("patient.after", "succeeded", 1)]
    kinds = [r.kind for r in query(service, "SELECT kind FROM jobs.events WHERE run_id = :r", r=str(run.run_id))]
    assert "failed" not in kinds and "run-failed" not in kinds
