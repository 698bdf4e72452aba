"""Waiting longer than one attempt may last (waiting.wait_in_slices, RetryLater): in slices, then retries."""

from __future__ import annotations

import pytest

from tests.support.helpers import query, wait_run_ended, wait_worker_ready
from wrls_actors.runtime import PermanentError, RetryLater, wait_in_slices


def test_a_wait_goes_on_in_retries_until_its_bound_from_the_runs_start():
    blocked = iter(["a", "a", "b", None])
    seen = []
    waited = wait_in_slices(
        lambda: next(blocked),
        lambda: 5.0,
        bound_s=60,
        poll_s=0.01,
        on_wait=seen.append,
        timed_out=lambda b, age: PermanentError(f"{b} after {age}"),
    )
    assert (waited.run_age_s, waited.waited_here, waited.awaited, seen) == (5.0, True, "b", ["a", "b"])

    with pytest.raises(RetryLater, match="still waiting for a after 5s; the wait goes on in a retry") as retry:
        wait_in_slices(lambda: "a", lambda: 5.0, bound_s=60, poll_s=2, slice_s=0, timed_out=PermanentError)
    assert retry.value.delay == 2000
    with pytest.raises(PermanentError, match="a after 61"):
        wait_in_slices(
            lambda: "a", lambda: 61.0, bound_s=60, timed_out=lambda b, age: PermanentError(f"{b} after {age:.0f}")
        )
    assert wait_in_slices(lambda: None, lambda: 1.0, bound_s=60, timed_out=PermanentError).waited_here is False


def test_retry_later_runs_the_step_again_after_its_delay_without_failing_the_run(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run = wait_run_ended(service, service.trigger("patient"))
    assert run.status == "succeeded", run.error
    assert run.counts == {"waited_attempts": 2, "records": 1}
    service.ledger.flush()
    steps = query(
        service,
        "SELECT actor, status, attempt FROM jobs.steps WHERE run_id = :r ORDER BY enqueued_at",
        r=str(run.run_id),
    )
    assert [(s.actor, s.status, s.attempt) for s in steps] == [
        ("patient.wait", "succeeded", 3),
        ("patient.after", "succeeded", 1),
    ]
    kinds = [r.kind for r in query(service, "SELECT kind FROM jobs.events WHERE run_id = :r", r=str(run.run_id))]
    assert "failed" not in kinds and "run-failed" not in kinds
