"""Heartbeats and the stall sweep (stalls.py): a step whose worker died is found, by a real worker's sweep."""

import signal

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_worker_ready


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
