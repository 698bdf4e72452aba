"""What a step may ask its context (definitions.StepContext): its run and the runs of other jobs.

The ledger reads behind it are in test_ledger_view.py, schedules in test_calendar.py, waiting in test_waiting.py."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import pytest

from tests.support.helpers import add_run
from wrls_actors.runtime import StepContext

NIGHT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 01:00 in London (GMT)


def context(service, run_id: str) -> StepContext:
    return StepContext(
        run_id=uuid.UUID(run_id),
        job="waiter",
        step="wait",
        params={},
        message_id="m",
        attempt=1,
        logger=logging.LoggerAdapter(logging.getLogger("test"), {}),
        engine=service.engine,
        calendar=service.calendar,
    )


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
