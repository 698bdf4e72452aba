"""Heartbeats and the stall sweep (stalls.py): a step whose worker died is found, by a real worker's sweep."""

import json
import signal
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_worker_ready
from wrls_actors.runtime.retention import make_weeks
from wrls_actors.runtime.stalls import SWEEP


def test_a_step_whose_worker_dies_is_found_stalled_by_the_sweep(service, processes, vhost):
    worker = processes("worker")
    wait_worker_ready(vhost, "long")
    service.trigger("long-step", {"seconds": 30})
    svc.wait_for(
        lambda: scalar(service, "SELECT count(*) FROM jobs.steps WHERE status = 'running'") == 1,
        what="the step to be recorded running",
    )
    worker.kill(signal.SIGKILL)
    worker.popen.wait(10)
    # Another worker on other queues only: it sweeps, but cannot take the message.
    processes("worker", "--queues", "short")
    stalled = svc.wait_for(
        lambda: query(service, "SELECT status, error FROM jobs.steps WHERE status = 'stalled'"),
        20,
        what="the sweep to find the stall",
    )
    assert "no heartbeat" in stalled[0].error


def test_a_step_past_its_heartbeat_is_listed_late_with_its_age_and_worker(service, processes, vhost):
    worker = processes("worker", "--queues", "long")
    wait_worker_ready(vhost, "long")
    run_id = service.trigger("long-step", {"seconds": 30})
    svc.wait_for(
        lambda: scalar(service, "SELECT count(*) FROM jobs.steps WHERE status = 'running'") == 1,
        what="the step to be recorded running",
    )
    assert service.late_steps() == []
    [on] = query(service, "SELECT worker_id FROM jobs.workers")

    worker.kill(signal.SIGKILL)
    worker.popen.wait(10)

    [late] = svc.wait_for(lambda: service.late_steps(), 20, what="the step to be late")
    assert (late.run_id, late.actor, late.queue, late.worker) == (run_id, "long-step.work", "long", on.worker_id)
    assert late.status in ("running", "stalled")
    assert late.age_s > 2 * service.settings.heartbeat_s


def test_the_sweep_looks_up_arrivals_late_step_by_late_step_with_jit_off(service):
    """With a year of arrivals, hashing them all for an anti-join (and compiling the plan, JIT) made each
    sweep take minutes; a subplan reads the arrivals of the few late steps only."""
    today = datetime.now(UTC).date()
    make_weeks(service.engine, today - timedelta(weeks=53), today)
    with service.engine.connect() as connection:
        assert connection.execute(text("SHOW jit")).scalar_one() == "off"
        plan = connection.execute(
            text("EXPLAIN (FORMAT JSON) " + SWEEP.text), {"stall_after": 60, "grace": 30}
        ).scalar_one()[0]["Plan"]
    nodes = json.dumps(plan)
    assert '"Subplan Name": "SubPlan 1"' in nodes and "Anti" not in nodes and '"Hash' not in nodes
