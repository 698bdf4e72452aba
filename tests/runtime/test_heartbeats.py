"""Heartbeats on a real worker: a long step on a live worker is beaten for, never taken for stalled."""

from tests.support import services as svc
from tests.support.helpers import query, wait_run_ended, wait_worker_ready


def test_a_step_running_past_the_stall_time_on_a_live_worker_keeps_beating_and_is_not_stalled(
    service, processes, vhost, env
):
    processes("worker")
    wait_worker_ready(vhost, "long")
    # Twice the time after which a step with no heartbeat is stalled (tests/conftest.py's env).
    seconds = 2 * float(env["WRLS_STALL_AFTER_S"])
    run_id = service.trigger("long-step", {"seconds": seconds})
    beats = set()

    def beaten_three_times() -> bool:
        rows = query(
            service,
            "SELECT heartbeat_at FROM jobs.steps WHERE actor = 'long-step.work' "
            "AND status = 'running' AND heartbeat_at IS NOT NULL",
        )
        beats.update(r.heartbeat_at for r in rows)
        return len(beats) >= 3

    svc.wait_for(beaten_three_times, seconds * 3, what="three heartbeats of the running step")
    assert wait_run_ended(service, run_id, timeout_s=60).status == "succeeded"
    step = svc.wait_for(
        lambda: query(
            service,
            "SELECT status, stalls, deliveries FROM jobs.steps WHERE actor = 'long-step.work' AND status <> 'running'",
        ),
        10,
        what="the step's end in the ledger",
    )[0]
    assert (step.status, step.stalls, step.deliveries) == ("succeeded", 0, 1)
    assert query(service, "SELECT kind FROM jobs.events WHERE kind = 'stalled'") == []
