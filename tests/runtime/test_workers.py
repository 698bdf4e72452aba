"""Worker processes in the ledger (workers.py): registered on boot, beating, stopped or gone; each step names its worker."""

import signal

from tests.support import services as svc
from tests.support.helpers import query, wait_run_ended, wait_worker_ready
from wrls_actors.runtime.workers import workers


def listed(service):
    with service.engine.connect() as connection:
        return workers(connection, stall_after_s=service.settings.stall_after_s)


def test_a_worker_is_registered_beats_names_its_steps_and_is_stopped_on_shutdown(service, processes, vhost):
    worker = processes("worker", "--queues", "short", "control")
    wait_worker_ready(vhost)
    [first] = svc.wait_for(lambda: listed(service), what="the worker to register")
    assert first.state == "alive" and first.stopped_at is None
    assert first.queues == ["control", "short"]
    assert first.worker_id == f"{first.hostname}:{first.pid}"
    svc.wait_for(lambda: listed(service)[0].heartbeat_at > first.heartbeat_at, what="a heartbeat")

    run_id = service.trigger("pipeline")
    assert wait_run_ended(service, run_id).status == "succeeded"
    assert {r.worker for r in query(service, "SELECT worker FROM jobs.steps WHERE run_id = :r", r=run_id)} == {
        first.worker_id
    }

    worker.terminate()
    worker.popen.wait(20)
    [gone] = listed(service)
    assert (gone.worker_id, gone.state) == (first.worker_id, "stopped")
    assert gone.stopped_at is not None


def test_a_killed_worker_is_gone_once_it_stops_beating(service, processes, vhost):
    worker = processes("worker", "--queues", "short")
    wait_worker_ready(vhost)
    [alive] = svc.wait_for(lambda: listed(service), what="the worker to register")
    assert alive.state == "alive"

    worker.kill(signal.SIGKILL)
    worker.popen.wait(10)

    [gone] = svc.wait_for(
        lambda: [w for w in listed(service) if w.state == "gone"], 20, what="the worker to be seen gone"
    )
    assert gone.worker_id == alive.worker_id and gone.stopped_at is None
    assert gone.heartbeat_age_s > service.settings.stall_after_s
