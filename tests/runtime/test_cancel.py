"""Cancelling a running run (RunControl.cancel): real worker process, RabbitMQ and PostgreSQL."""

import time

import pytest

from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.processes import run_cli
from tests.support.services import queue_stats, wait_for
from wrls_actors.runtime.errors import NoSuchRun, NotRunning
from wrls_actors.runtime.runs import CHILDREN_CANCELLED


def children_cancelled(service, run_id) -> int:
    return scalar(service, f"SELECT {CHILDREN_CANCELLED} FROM jobs.runs r WHERE r.run_id = :r", r=run_id)


def children_done(service, run_id) -> int:
    return scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r AND step = 'each'", r=run_id)


def test_a_cancelled_fan_out_finishes_the_children_at_work_and_never_runs_the_rest(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost, "long")
    run_id = service.trigger("fan-slow", {"n": 60})
    wait_for(lambda: children_done(service, run_id) >= 4, 30, what="a few children done")

    not_started = service.cancel(run_id, operator="ops@example", reason="the extract is wrong")

    run = query(service, "SELECT * FROM jobs.runs WHERE run_id = :r", r=run_id)[0]
    assert (run.status, run.error) == ("cancelled", "cancelled by ops@example: the extract is wrong")
    assert run.finished_at is not None
    assert 0 < not_started < 60
    # The queue drains: the children not started are acknowledged without running.
    wait_for(lambda: queue_stats(vhost, "long").get("messages", 1) == 0, 60, what="the long queue drained")
    # Once the children at work have ended, every child either ran or is counted cancelled.
    wait_for(
        lambda: (
            scalar(
                service,
                "SELECT count(*) FROM jobs.steps WHERE run_id = :r AND status IN ('running', 'retrying', 'stalled')",
                r=run_id,
            )
            == 0
        ),
        20,
        what="the children at work to end",
    )
    done = children_done(service, run_id)
    assert done >= 4 and done + children_cancelled(service, run_id) == 60
    assert scalar(service, "SELECT arrived FROM jobs.barriers WHERE run_id = :r", r=run_id) == done
    assert scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r AND step = 'finish'", r=run_id) == 0
    # Counted once, on the run: not an event per child.
    assert (
        scalar(service, "SELECT count(*) FROM jobs.events WHERE run_id = :r AND kind = 'step-duplicate'", r=run_id) == 0
    )
    [event] = query(service, "SELECT kind, operator, reason FROM jobs.events WHERE run_id = :r", r=run_id)
    assert tuple(event) == ("run-cancelled", "ops@example", "the extract is wrong")
    outcome = query(
        service,
        'SELECT value FROM jobs.counters WHERE name = \'runs_total\' AND labels = \'{"job": "fan-slow", "outcome": "cancelled"}\'',
    )
    assert [r.value for r in outcome] == [1]


def test_a_cancelled_pipeline_finishes_its_step_at_work_and_starts_nothing_after_it(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost, "long")
    run_id = service.trigger("long-step", {"seconds": 2})
    wait_for(
        lambda: scalar(service, "SELECT count(*) FROM test_attempts WHERE step = 'started'"), 20, what="work started"
    )

    assert service.cancel(run_id, operator="ops", reason="not needed today") == 0

    # The step at work ends on its own; its effect is written, and no later step starts.
    wait_for(lambda: scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r", r=run_id) == 1, 20)
    time.sleep(1.5)
    steps = [r.step for r in query(service, "SELECT step FROM test_effects WHERE run_id = :r", r=run_id)]
    assert steps == ["work"]
    assert scalar(service, "SELECT status FROM jobs.runs WHERE run_id = :r", r=run_id) == "cancelled"


def test_only_a_running_run_can_be_cancelled(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run_id = service.trigger("pipeline")
    assert wait_run_ended(service, run_id).status == "succeeded"

    with pytest.raises(NotRunning, match="is not running: it is succeeded"):
        service.cancel(run_id, operator="ops", reason="too late")
    with pytest.raises(NoSuchRun):
        service.cancel("00000000-0000-4000-8000-000000000000", operator="ops", reason="no such run")
    with pytest.raises(NoSuchRun, match="run ids are UUIDs"):
        service.cancel("not-a-uuid", operator="ops", reason="no such run")
    # UUID() reads these; PostgreSQL would not: the run is found all the same.
    with pytest.raises(NotRunning):
        service.cancel("{" + run_id.upper().replace("-", "") + "}", operator="ops", reason="spelt otherwise")
    assert scalar(service, "SELECT status FROM jobs.runs WHERE run_id = :r", r=run_id) == "succeeded"


def test_the_cli_cancels_with_a_reason_and_refuses_what_it_cannot_cancel(service, env):
    run_id = service.trigger("long-step", {"seconds": 30})

    def cli(*args):
        return run_cli(env, *args)

    assert cli("cancel", run_id).returncode == 2  # --reason is required
    done = cli("cancel", run_id, "--reason", "stuck behind the import")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"run {run_id} cancelled"
    [event] = query(service, "SELECT operator, reason FROM jobs.events WHERE run_id = :r", r=run_id)
    assert event.operator.startswith("cli:") and event.reason == "stuck behind the import"
    again = cli("cancel", run_id, "--reason", "twice")
    assert again.returncode == 4 and "is not running: it is cancelled" in again.stderr
    assert cli("cancel", "not-a-run", "--reason", "x").returncode == 4
