"""Waiting for the NALD swap (jobs/shared/nald_wait.py): in the test process against the real ledger,
and end to end through a worker."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.services import wait_for
from wrls_actors.config import Config
from wrls_actors.jobs.charging_import_data import CHARGING_IMPORT_DATA
from wrls_actors.jobs.charging_import_data.wait_for_nald import TABLES_READ
from wrls_actors.jobs.shared.nald_wait import WAIT_RETRIES, wait_for_nald_swap
from wrls_actors.runtime import SLICE_S, ConfigurationError, PermanentError, RetryLater, Service, Settings, StepContext
from wrls_actors.schedules import SCHEDULES

JOB = "charging-import-data"
MONDAY_1AM = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 01:00 in London (GMT)


def add_run(wrls, job: str, *, trigger: str = "cli", nominal: datetime | None = None, connection=None) -> str:
    sql = text(
        "INSERT INTO jobs.runs (run_id, job, trigger, nominal_time, status) "
        "VALUES (gen_random_uuid(), :job, :trigger, :nominal, 'running') RETURNING run_id::text"
    )
    params = {"job": job, "trigger": trigger, "nominal": nominal}
    if connection is not None:
        return connection.execute(sql, params).scalar_one()
    with wrls.engine.begin() as c:
        return c.execute(sql, params).scalar_one()


def set_run(wrls, run_id: str, sql: str) -> None:
    with wrls.engine.begin() as connection:
        connection.execute(text(f"UPDATE jobs.runs SET {sql} WHERE run_id = CAST(:r AS uuid)"), {"r": run_id})


def context(wrls, run_id: str, attempt: int = 1) -> StepContext:
    logger = logging.LoggerAdapter(logging.getLogger("jobs.test-wait"), {})
    return StepContext(
        run_id=uuid.UUID(run_id),
        job=JOB,
        step="wait-for-nald",
        params={},
        message_id="m",
        attempt=attempt,
        logger=logger,
        engine=wrls.engine,
        calendar=wrls.calendar,
    )


def test_the_bound_defaults_to_an_hour_and_stays_within_what_the_step_retries_can_reach():
    assert Config.from_env({}).nald_wait_s == 3600
    assert Config.from_env({"WRLS_NALD_WAIT_S": "14400"}).nald_wait_s == 14400
    with pytest.raises(ConfigurationError, match="WRLS_NALD_WAIT_S must be between 0 and 14400, got 14401"):
        Config.from_env({"WRLS_NALD_WAIT_S": "14401"})
    assert (WAIT_RETRIES + 1) * SLICE_S > 14400  # attempts enough for the longest bound
    step = CHARGING_IMPORT_DATA.steps[0]
    assert step.max_retries == WAIT_RETRIES and SLICE_S < step.time_limit.total_seconds() < 1800


def nald_tick_due(nominal: datetime | None, env: dict[str, str]) -> bool:
    """What the wait asks the step context: does nald-import fire at ``nominal``, as the service runs it."""
    return Service(Settings.from_env("WRLS", env), (), SCHEDULES).calendar.fires_at("nald-import", nominal)


def test_the_wait_asks_the_nald_schedule_with_its_override():
    assert nald_tick_due(MONDAY_1AM, {})
    assert nald_tick_due(datetime(2026, 7, 6, 0, 0, tzinfo=UTC), {})  # 01:00 in summer time
    assert not nald_tick_due(MONDAY_1AM.replace(hour=4), {})
    assert not nald_tick_due(None, {})
    assert not nald_tick_due(MONDAY_1AM, {"WRLS_SCHEDULE_NALD_IMPORT": "off"})
    assert nald_tick_due(MONDAY_1AM.replace(hour=4), {"WRLS_SCHEDULE_NALD_IMPORT": "0 4 * * *"})


def test_a_scheduled_run_waits_for_tonights_nald_tick_then_for_its_download(wrls, caplog):
    caplog.set_level(logging.INFO, logger="jobs.test-wait")
    ours = add_run(wrls, JOB, trigger="schedule", nominal=MONDAY_1AM)
    ctx = context(wrls, ours)
    result = {}
    waiter = threading.Thread(
        target=lambda: result.update(waited=wait_for_nald_swap(ctx, 600, poll_s=0.1, tables=TABLES_READ))
    )
    waiter.start()
    try:
        # Both jobs fire at 01:00: the NALD tick may not be claimed yet when this run looks.
        wait_for(
            lambda: any("waiting for nald-import's tick of 2026-03-02T01:00:00+00:00" in m for m in caplog.messages),
            10,
            what="the wait for the tick",
        )
        with wrls.engine.begin() as connection:
            nald = add_run(wrls, "nald-import", trigger="schedule", nominal=MONDAY_1AM, connection=connection)
            connection.execute(
                text(
                    "INSERT INTO jobs.ticks (schedule, nominal_time, outcome, run_id) "
                    "VALUES ('nald-import', :n, 'started', CAST(:r AS uuid))"
                ),
                {"n": MONDAY_1AM, "r": nald},
            )
        wait_for(
            lambda: any(f"waiting for nald-import run {nald}" in m for m in caplog.messages),
            10,
            what="the wait for the NALD run",
        )
        assert waiter.is_alive()
        set_run(wrls, nald, "step_index = 1")  # s3-download swapped the extract in and moved on
    finally:
        waiter.join(30)
    assert result["waited"] >= 1 and ctx.counts["waited_for_nald_s"] == result["waited"]
    assert any(
        f"waited {result['waited']}s for the NALD import (run {nald} running, at step 1)" in m for m in caplog.messages
    )


def test_a_run_triggered_by_hand_does_not_wait_for_a_tick(wrls):
    ctx = context(wrls, add_run(wrls, JOB))
    assert wait_for_nald_swap(ctx, 600, poll_s=0.1) == 0
    assert ctx.counts["waited_for_nald_s"] == 0


def test_one_attempt_waits_a_slice_the_run_waits_its_bound_and_the_wait_is_counted_from_the_run_start(wrls):
    nald = add_run(wrls, "nald-import")
    ours = add_run(wrls, JOB)
    # An attempt ends after its slice, to be retried: a step must end before RabbitMQ's consumer timeout.
    with pytest.raises(RetryLater, match=f"still waiting for nald-import run {nald}"):
        wait_for_nald_swap(context(wrls, ours), 600, poll_s=0.1, slice_s=0.3)
    # The bound counts from the run's start, whatever the attempt.
    set_run(wrls, ours, "started_at = now() - interval '700 seconds'")
    with pytest.raises(
        PermanentError,
        match=rf"still waiting for nald-import run {nald} .* after 70\ds, "
        r"the limit being 600s \(WRLS_NALD_WAIT_S\); nothing was written",
    ):
        wait_for_nald_swap(context(wrls, ours, attempt=2), 600, poll_s=0.1)
    # The NALD run failed: `import` still holds the previous (complete) extract, which is read.
    set_run(wrls, nald, "status = 'failed'")
    ctx = context(wrls, ours, attempt=3)
    waited = wait_for_nald_swap(ctx, 600, poll_s=0.1)
    assert 700 <= waited < 800 and ctx.counts["waited_for_nald_s"] == waited


def test_the_job_waits_for_a_nald_import_still_loading_and_goes_on_once_it_has_swapped(wrls, worker, vhost, load_nald):
    load_nald(licences=10, seed=4)
    nald = add_run(wrls, "nald-import")  # at its first step, s3-download
    process = worker()
    wait_worker_ready(vhost, "import")
    run_id = wrls.trigger(JOB)

    wait_for(lambda: f"waiting for nald-import run {nald}" in process.output(), 30, what="the job to wait")
    assert scalar(wrls, "SELECT count(*) FROM water.financial_agreement_types") == 0  # nothing read or written yet
    assert scalar(wrls, "SELECT status FROM jobs.runs WHERE run_id = :r", r=run_id) == "running"
    set_run(wrls, nald, "status = 'succeeded', finished_at = now()")

    run = wait_run_ended(wrls, run_id, 60)
    assert run.status == "succeeded", run.error
    assert run.counts["waited_for_nald_s"] >= 1
    assert scalar(wrls, "SELECT count(*) FROM water.financial_agreement_types") > 0
    assert f"(run {nald} succeeded, at step 0); reading import now" in process.output()


def test_the_wait_fails_clearly_at_its_bound_and_a_missing_import_table_fails_the_run(wrls, worker, vhost, load_nald):
    load_nald(licences=5, seed=2)
    nald = add_run(wrls, "nald-import")
    worker({"WRLS_NALD_WAIT_S": "1"})
    wait_worker_ready(vhost, "import")

    run = wait_run_ended(wrls, wrls.trigger(JOB), 60)
    assert run.status == "failed"
    assert f"still waiting for nald-import run {nald}" in run.error and "(WRLS_NALD_WAIT_S)" in run.error
    steps = query(wrls, "SELECT actor, attempt FROM jobs.steps WHERE run_id = :r", r=str(run.run_id))
    assert [(s.actor, s.attempt) for s in steps] == [(f"{JOB}.wait-for-nald", 1)]  # not retried
    assert scalar(wrls, "SELECT count(*) FROM water.financial_agreement_types") == 0

    set_run(wrls, nald, "status = 'failed', finished_at = now()")
    with wrls.engine.begin() as connection:
        connection.execute(text('DROP TABLE import."NALD_RET_FORMATS"'))
    run = wait_run_ended(wrls, wrls.trigger(JOB), 60)
    assert run.status == "failed" and "schema import lacks tables: NALD_RET_FORMATS " in run.error, run.error
    assert scalar(wrls, "SELECT count(*) FROM water.financial_agreement_types") == 0
