"""Step starts against the real database: checked against their run and recorded before the work."""

import threading
import uuid

from tests.support.helpers import query
from wrls_actors.runtime.starts import DUPLICATE, RUN, STRAY, Start


def start(run_id: str, job: str, index: int, message_id: str | None = None, **fields) -> Start:
    return Start(message_id or str(uuid.uuid4()), run_id, f"{job}.step{index}", "short", 1, job, index, 1000, **fields)


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
