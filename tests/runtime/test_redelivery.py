"""Killed workers and poison messages (the ledger middleware): a message redelivered after its worker died is
recorded and counted, its effect happens once; one that keeps killing its worker is dead-lettered."""

import signal
import time

import pytest

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready


def test_a_worker_killed_mid_step_has_its_message_redelivered_and_the_effect_happens_once(service, processes, vhost):
    worker = processes("worker")
    wait_worker_ready(vhost, "long")
    run_id = service.trigger("long-step", {"seconds": 3})
    svc.wait_for(
        lambda: (
            scalar(service, "SELECT count(*) FROM test_attempts WHERE step = 'started'") == 1
            and scalar(service, "SELECT status FROM jobs.steps WHERE actor = 'long-step.work'") == "running"
        ),
        what="the step to start and be recorded running",
    )
    worker.kill(signal.SIGKILL)
    worker.popen.wait(10)
    # The dead worker stops heartbeating: the sweep of another worker marks the step stalled.
    processes("worker")
    run = wait_run_ended(service, run_id, timeout_s=60)
    assert run.status == "succeeded"
    assert scalar(service, "SELECT count(*) FROM test_attempts WHERE step = 'started'") == 2
    assert scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r AND step = 'work'", r=run_id) == 1
    assert scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r AND step = 'after'", r=run_id) == 1
    step = svc.wait_for(
        lambda: query(
            service,
            "SELECT status, deliveries, stalls, attempt FROM jobs.steps "
            "WHERE actor = 'long-step.work' AND status <> 'running'",
        ),
        10,
        what="the step's end in the ledger",
    )[0]
    assert (step.status, step.deliveries, step.attempt) == ("succeeded", 2, 1)
    assert step.stalls == 1
    events = query(service, "SELECT kind, run_id, detail FROM jobs.events")
    assert [e.kind for e in events if e.kind == "stalled" and str(e.run_id) == run_id] == ["stalled"], events
    assert scalar(service, "SELECT value FROM jobs.counters WHERE name = 'steps_stalled_total'") == 1


def test_a_worker_killed_before_its_first_heartbeat_has_the_redelivery_counted_as_the_second(service, processes, vhost):
    # No heartbeat will record the step running: only its start record can.
    worker = processes("worker", extra_env={"WRLS_HEARTBEAT_S": "600"})
    wait_worker_ready(vhost, "long")
    run_id = service.trigger("long-step", {"seconds": 2})
    svc.wait_for(
        lambda: scalar(service, "SELECT count(*) FROM test_attempts WHERE step = 'started'") == 1,
        what="the step's work to start",
    )
    worker.kill(signal.SIGKILL)
    worker.popen.wait(10)
    processes("worker")
    assert wait_run_ended(service, run_id, timeout_s=60).status == "succeeded"
    assert scalar(service, "SELECT count(*) FROM test_attempts WHERE step = 'started'") == 2
    step = svc.wait_for(
        lambda: query(
            service,
            "SELECT status, deliveries, attempt, message_id FROM jobs.steps "
            "WHERE actor = 'long-step.work' AND status = 'succeeded'",
        ),
        10,
        what="the step's end in the ledger",
    )[0]
    assert (step.deliveries, step.attempt) == (2, 1)
    events = query(
        service, "SELECT detail FROM jobs.events WHERE kind = 'redelivered' AND message_id = :m", m=step.message_id
    )
    assert [e.detail for e in events] == ["started 2 times without finishing"]


@pytest.mark.slow
def test_a_message_that_kills_its_worker_is_dead_lettered_after_max_deliveries(service, processes, vhost, env):
    run_id = service.trigger("crasher")
    # A worker is started again each time the message kills one, until the run ends. A worker killed by its
    # message before it said it was ready keeps its main process waiting out Dramatiq's fork timeout (30 s), so
    # a worker still alive does not mean it is the one that refused the message: only the run's end says so.
    worker = processes("worker", extra_env={"WRLS_MAX_DELIVERIES": "2"})
    started = 1
    deadline = time.monotonic() + 180
    while scalar(service, "SELECT status FROM jobs.runs WHERE run_id = :r", r=run_id) == "running":
        assert time.monotonic() < deadline, f"the run still running after {started} workers"
        if not worker.alive():
            assert started < 5, "five workers killed and the message still not dead-lettered"
            worker = processes("worker", extra_env={"WRLS_MAX_DELIVERIES": "2"})
            started += 1
        time.sleep(0.2)
    run = wait_run_ended(service, run_id, timeout_s=5)
    # The worker that refused the third delivery lives on.
    assert started == 3 and worker.alive(), started
    assert run.status == "failed"
    assert "dead-lettered after at least 2 starts without finishing" in run.error
    svc.wait_for(
        lambda: scalar(service, "SELECT status FROM jobs.steps WHERE actor = 'crasher.work'") == "dead-lettered",
        10,
        what="the dead-letter to be recorded",
    )
    # Every start is recorded before the work: two starts crash, the third delivery is refused.
    assert scalar(service, "SELECT count(*) FROM test_attempts WHERE step = 'work'") == 2
    assert svc.wait_for(
        lambda: svc.queue_stats(vhost, "long.XQ").get("messages", 0) == 1, 20, what="the message in long.XQ"
    )
