"""Step starts (starts.py) against the real database: checked against their run and recorded before the work;
and, through a real worker, a stray dead-lettered and a duplicate acknowledged without running."""

import threading
import uuid
from datetime import UTC, datetime, timedelta

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.messages import publish, signed
from wrls_actors.runtime.runs import step_message_id
from wrls_actors.runtime.starts import DUPLICATE, RUN, STRAY, Start

ZERO_RUN = "00000000-0000-0000-0000-000000000000"


def start(run_id: str, job: str, index: int, message_id: str | None = None, **fields) -> Start:
    today = datetime.now(UTC).date()
    return Start(
        message_id or str(uuid.uuid4()), today, run_id, f"{job}.step{index}", "short", 1, job, index, 1000, **fields
    )


def test_starts_from_many_threads_get_each_their_verdict_and_only_runs_are_recorded_running(service):
    run_id = service.trigger("pipeline")
    with service.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE jobs.runs SET step_index = 1 WHERE run_id = %s", (run_id,))
    starts = [start(run_id, "pipeline", 1) for _ in range(20)] + [
        start(run_id, "pipeline", 0),  # passed
        start(run_id, "pipeline", 2),  # not reached
        start(run_id, "gate", 1),  # another job's
        start(str(uuid.UUID(int=0)), "pipeline", 0),  # no such run
    ]
    committer = service.ledger.starts
    threads = [threading.Thread(target=committer.start, args=(s,)) for s in starts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [s.verdict for s in starts] == [RUN] * 20 + [DUPLICATE, STRAY, STRAY, STRAY]
    assert starts[20].reason == f"run {run_id} has moved past step 0 (it is at step 1)"
    assert starts[21].reason == f"run {run_id} is at step 1, not yet at step 2"
    assert starts[22].reason == f"run {run_id} is a run of pipeline, not gate"
    assert starts[23].reason == f"run {uuid.UUID(int=0)} does not exist"
    rows = query(service, "SELECT message_id, status, deliveries, started_at FROM jobs.steps WHERE status = 'running'")
    assert sorted(r.message_id for r in rows) == sorted(s.message_id for s in starts[:20])
    assert all(r.deliveries == 1 and r.started_at is not None for r in rows)


def test_a_start_only_checked_records_nothing(service):
    run_id = service.trigger("pipeline")
    checked = service.ledger.starts.start(start(run_id, "pipeline", 0, record=False))
    assert checked.verdict == RUN
    assert query(service, "SELECT * FROM jobs.steps WHERE message_id = :m", m=checked.message_id) == []


def test_a_step_message_for_a_run_that_does_not_exist_is_dead_lettered_as_stray(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    body = {
        "queue_name": "short",
        "actor_name": "pipeline.first",
        "message_id": str(uuid.uuid4()),
        "kwargs": {"run_id": ZERO_RUN, "params": {}},
    }
    publish(vhost, "short", signed(body))
    svc.wait_for(lambda: svc.queue_stats(vhost, "short.XQ").get("messages", 0) == 1, 30, what="the stray in short.XQ")
    event = svc.wait_for(
        lambda: query(service, "SELECT * FROM jobs.events WHERE kind = 'stray'"), 10, what="the stray recorded"
    )[0]
    assert event.detail == f"pipeline.first: run {ZERO_RUN} does not exist; dead-lettered"
    assert event.message_id == body["message_id"]
    assert scalar(service, "SELECT count(*) FROM test_attempts") == 0
    assert scalar(service, "SELECT count(*) FROM jobs.steps WHERE status = 'succeeded'") == 0


def test_a_repeated_step_message_of_a_run_that_moved_on_is_acked_as_a_duplicate_not_run(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run_id = service.trigger("pipeline")
    assert wait_run_ended(service, run_id).status == "succeeded"
    first = svc.wait_for(
        lambda: query(service, "SELECT * FROM jobs.steps WHERE actor = 'pipeline.first' AND status = 'succeeded'"),
        10,
        what="the first step's row",
    )[0]
    # Step 1 again, as a crash after its commit and before its ack would deliver it.
    body = {
        "queue_name": "short",
        "actor_name": "pipeline.second",
        "message_id": step_message_id(run_id, 1),
        "kwargs": {"run_id": run_id, "params": {}},
    }
    publish(vhost, "short", signed(body))
    # And a step the run has not reached (a run of another job, too: stray).
    publish(vhost, "short", signed({**body, "actor_name": "gate.after", "message_id": str(uuid.uuid4())}))
    svc.wait_for(
        lambda: query(service, "SELECT * FROM jobs.events WHERE kind = 'step-duplicate'"),
        20,
        what="the duplicate recorded",
    )
    svc.wait_for(lambda: svc.queue_stats(vhost, "short.XQ").get("messages", 0) == 1, 20, what="the stray dead-lettered")
    duplicate = query(service, "SELECT * FROM jobs.events WHERE kind = 'step-duplicate'")[0]
    assert duplicate.detail == (f"pipeline.second: run {run_id} has ended (succeeded); acknowledged, not run")
    stray = query(service, "SELECT * FROM jobs.events WHERE kind = 'stray'")[0]
    assert stray.detail == f"gate.after: run {run_id} is a run of pipeline, not gate; dead-lettered"
    assert scalar(service, "SELECT count(*) FROM test_attempts WHERE step = 'second'") == 1
    row = query(service, "SELECT * FROM jobs.steps WHERE message_id = :m", m=step_message_id(run_id, 1))[0]
    assert row.status == "succeeded" and row.deliveries == 1
    assert first.status == "succeeded"


def test_a_start_carrying_its_runs_start_runs_only_at_that_start(service):
    run_id = service.trigger("pipeline")
    started = scalar(service, "SELECT started_at FROM jobs.runs WHERE run_id = :r", r=run_id)
    forged = started + timedelta(microseconds=1)
    group = [
        start(run_id, "pipeline", 0, run_started_at=started),
        start(run_id, "pipeline", 0, run_started_at=forged),  # signed by mistake with another start
        start(run_id, "pipeline", 0),  # an older message, without its run's start
    ]
    threads = [threading.Thread(target=service.ledger.starts.start, args=(s,)) for s in group]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [s.verdict for s in group] == [RUN, STRAY, RUN]
    assert group[1].reason == f"run {run_id} started at {forged.isoformat()} does not exist"
    rows = query(service, "SELECT message_id FROM jobs.steps WHERE status = 'running'")
    assert sorted(r.message_id for r in rows) == sorted([group[0].message_id, group[2].message_id])
    assert scalar(service, "SELECT step_index FROM jobs.runs WHERE run_id = :r", r=run_id) == 0
