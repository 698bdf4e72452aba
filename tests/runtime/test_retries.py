"""Retrying a failed run (runtime/retries.py): real worker process, RabbitMQ and PostgreSQL."""

import pytest

from tests.support.helpers import attempts, break_sample, mend_sample, query, scalar, wait_run_ended, wait_worker_ready
from tests.support.processes import run_cli
from wrls_actors.runtime.errors import NoSuchRun
from wrls_actors.runtime.retries import NotRetryable


def test_only_the_failed_children_run_again_and_the_run_completes(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost, "long")
    break_sample(service, "1", "3")
    run_id = service.trigger("fan-fixable", {"n": 5})
    failed = wait_run_ended(service, run_id)
    assert (failed.status, failed.error) == ("failed", "2 of 5 each items failed: 1, 3")
    mend_sample(service)

    again = service.retry(run_id, operator="ops@example", reason="items 1 and 3 fixed", failed_children_only=True)

    assert again == 2
    run = wait_run_ended(service, run_id)
    assert (run.status, run.error, run.children_failed) == ("succeeded", None, 0)
    # Every child once in the counts, as if it had all gone well the first time.
    assert run.counts == {"records": 1, "each_queued": 5, "children_ok": 5}
    # Whole numbers, not 5.0 (== would not tell them apart): the pages and the API show them as stored.
    assert all(type(v) is int for v in run.counts.values()), run.counts
    # The children that had succeeded did not run again; the failed ones ran twice.
    assert [attempts(service, f"each:{i}") for i in range(5)] == [1, 2, 1, 2, 1]
    items = [
        r.item for r in query(service, "SELECT item FROM test_effects WHERE run_id = :r AND step = 'each'", r=run_id)
    ]
    assert sorted(items) == ["0", "1", "2", "3", "4"]
    [event] = query(service, "SELECT kind, operator, reason, detail FROM jobs.events WHERE kind = 'run-retried'")
    assert (event.operator, event.reason) == ("ops@example", "items 1 and 3 fixed")
    assert event.detail == "retried its 2 failed each items of step prepare by ops@example"
    assert (
        scalar(service, "SELECT status FROM jobs.steps WHERE run_id = :r AND actor = 'fan-fixable.finish'", r=run_id)
        == "succeeded"
    )


def test_a_chunk_with_a_failed_item_runs_again_whole_and_counts_its_items_once(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost, "long")
    break_sample(service, "5")
    run_id = service.trigger("fan-chunked-strict", {"n": 10})
    failed = wait_run_ended(service, run_id)
    assert (failed.status, failed.error) == ("failed", "1 of 10 each items failed: 5")
    mend_sample(service)

    # Items 4 to 7 travelled together: the chunk runs again whole (its work is idempotent).
    assert service.retry(run_id, operator="ops@example", reason="item 5 fixed", failed_children_only=True) == 4

    run = wait_run_ended(service, run_id)
    assert (run.status, run.error, run.children_failed) == ("succeeded", None, 0)
    assert run.counts == {"records": 1, "each_queued": 10, "children_ok": 10}
    barrier = query(service, "SELECT expected, arrived, failed FROM jobs.barriers WHERE run_id = :r", r=run_id)[0]
    assert (barrier.expected, barrier.arrived, barrier.failed) == (10, 10, 0)
    items = [
        r.item for r in query(service, "SELECT item FROM test_effects WHERE run_id = :r AND step = 'each'", r=run_id)
    ]
    assert sorted(items, key=int) == [str(i) for i in range(10)]


def test_a_run_retried_from_its_failed_step_does_not_run_the_steps_before_it(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    break_sample(service, "step")
    run_id = service.trigger("fixable")
    assert wait_run_ended(service, run_id).status == "failed"
    mend_sample(service)

    assert service.retry(run_id, operator="ops", reason="fixed the input") == 0

    run = wait_run_ended(service, run_id)
    assert run.status == "succeeded"
    assert run.counts == {"records": 2}
    steps = [r.step for r in query(service, "SELECT step FROM test_effects WHERE run_id = :r ORDER BY id", r=run_id)]
    assert steps == ["first", "check", "then"]
    assert attempts(service, "first") == 1 and attempts(service, "check:tried") == 2
    [row] = query(service, "SELECT status, attempt, error FROM jobs.steps WHERE actor = 'fixable.check'")
    assert (row.status, row.attempt, row.error) == ("succeeded", 1, None)


def test_what_cannot_be_retried_is_refused_and_left_alone(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    done = service.trigger("pipeline")
    assert wait_run_ended(service, done).status == "succeeded"
    with pytest.raises(NotRetryable, match="only a failed run is retried"):
        service.retry(done, operator="ops", reason="x")
    break_sample(service, "step")
    failed = service.trigger("fixable")
    assert wait_run_ended(service, failed).status == "failed"
    with pytest.raises(NotRetryable, match="did not fail at a fan-in with failed children"):
        service.retry(failed, operator="ops", reason="x", failed_children_only=True)
    assert scalar(service, "SELECT status FROM jobs.runs WHERE run_id = :r", r=failed) == "failed"
    with pytest.raises(NoSuchRun):
        service.retry("00000000-0000-4000-8000-000000000000", operator="ops", reason="x")
    assert scalar(service, "SELECT count(*) FROM jobs.events WHERE kind = 'run-retried'") == 0


def test_the_cli_retries_with_a_reason(service, processes, vhost, env):
    processes("worker")
    wait_worker_ready(vhost)
    break_sample(service, "step")
    run_id = service.trigger("fixable")
    assert wait_run_ended(service, run_id).status == "failed"
    mend_sample(service)

    def cli(*args):
        return run_cli(env, *args)

    assert cli("retry", run_id).returncode == 2  # --reason is required
    assert cli("retry", run_id, "--reason", "x", "--failed-children").returncode == 4
    done = cli("retry", run_id, "--reason", "fixed")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"run {run_id} retried from its failed step"
    assert wait_run_ended(service, run_id).status == "succeeded"
