"""Jobs as pipelines, end to end: real worker process, RabbitMQ and PostgreSQL."""

import pytest

from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.services import wait_for
from wrls_actors.runtime import LedgerView
from wrls_actors.runtime.errors import AlreadyRunning


def test_steps_run_in_order_and_the_run_succeeds(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run_id = service.trigger("pipeline")
    run = wait_run_ended(service, run_id)
    assert run.status == "succeeded"
    assert run.counts == {"records": 3}
    steps = [
        r.step for r in query(service, "SELECT step FROM test_effects WHERE run_id = :r ORDER BY at, id", r=run_id)
    ]
    assert steps == ["first", "second", "third"]
    ledger = query(
        service, "SELECT actor, status, attempt FROM jobs.steps WHERE run_id = :r ORDER BY enqueued_at", r=run_id
    )
    assert [(r.actor, r.status, r.attempt) for r in ledger] == [
        ("pipeline.first", "succeeded", 1),
        ("pipeline.second", "succeeded", 1),
        ("pipeline.third", "succeeded", 1),
    ]


def test_a_step_failing_after_its_retries_fails_the_run_and_nothing_later_starts(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run_id = service.trigger("fail-fast")
    run = wait_run_ended(service, run_id)
    assert run.status == "failed"
    assert "fail-fast.broken" in run.error and "boom" in run.error
    # The broken step was tried twice (max_retries=1), and the step after it never ran nor was queued.
    assert scalar(service, "SELECT count(*) FROM test_attempts WHERE step = 'broken'") == 2
    assert scalar(service, "SELECT count(*) FROM test_effects WHERE step = 'never'") == 0
    # The run fails as the step's failure is handed to the worker's ledger writer, which writes it a flush later.
    statuses = wait_for(
        lambda: (lambda found: found if "running" not in {status for status, _ in found.values()} else None)(
            {
                r.actor: (r.status, r.attempt)
                for r in query(service, "SELECT actor, status, attempt FROM jobs.steps WHERE run_id = :r", r=run_id)
            }
        ),
        10,
        what="no step of the run left running in the ledger",
    )
    assert statuses == {"fail-fast.first": ("succeeded", 1), "fail-fast.broken": ("failed", 2)}
    kinds = [r.kind for r in query(service, "SELECT kind FROM jobs.events WHERE run_id = :r ORDER BY id", r=run_id)]
    assert kinds.count("retrying") == 1 and "failed" in kinds and "run-failed" in kinds


def test_fan_in_continues_once_when_every_child_ended_and_counts_the_failed_one(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run_id = service.trigger("fan", {"n": 30, "fail": [7]})
    run = wait_run_ended(service, run_id)
    assert run.status == "completed-with-failures"
    assert run.children_failed == 1
    assert run.counts["children_ok"] == 29 and run.counts["each_queued"] == 30
    assert scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r AND step = 'each'", r=run_id) == 29
    # The step after the fan-in ran exactly once.
    assert (
        scalar(
            service,
            "SELECT count(*) FROM test_attempts a JOIN test_effects e USING (message_id) "
            "WHERE e.run_id = :r AND a.step = 'finish'",
            r=run_id,
        )
        == 1
    )
    barrier = query(
        service, "SELECT expected, arrived, failed, fired_at FROM jobs.barriers WHERE run_id = :r", r=run_id
    )[0]
    assert (barrier.expected, barrier.arrived, barrier.failed) == (30, 30, 1) and barrier.fired_at is not None


def test_a_later_step_can_read_which_children_failed_and_why(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run_id = service.trigger("fan", {"n": 4, "fail": [2]})
    assert wait_run_ended(service, run_id).status == "completed-with-failures"
    ledger = LedgerView(service.engine)
    # A failed child's error is on its step row, which the worker writes in batches: it may lag the run's end.
    children = wait_for(
        lambda: (c := ledger.children(run_id, 0)) and c[2].error and c, 10, what="the failed child's error"
    )
    assert [(c.position, c.status) for c in children] == [
        (0, "succeeded"),
        (1, "succeeded"),
        (2, "failed"),
        (3, "succeeded"),
    ]
    assert "item 2 is bad" in children[2].error
    assert [c.error for c in children if c.position != 2] == [None, None, None]
    assert children[0].counts == {"children_ok": 1} and children[2].counts == {}
    assert ledger.children(run_id, 1) == []  # that step fanned nothing out


def test_a_chunked_fan_out_isolates_each_bad_item_and_counts_items_not_messages(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run_id = service.trigger("fan-chunked", {"n": 30, "fail": [7, 20]})
    run = wait_run_ended(service, run_id)
    assert (run.status, run.children_failed) == ("completed-with-failures", 2)
    assert run.counts["children_ok"] == 28 and run.counts["each_queued"] == 30
    assert run.note == "2 of 30 each items failed: 7, 20"
    barrier = query(service, "SELECT expected, arrived, failed, chunk FROM jobs.barriers WHERE run_id = :r", r=run_id)
    assert [tuple(b) for b in barrier] == [(30, 30, 2, 4)]
    # Every good item was written, the bad ones not; the step after the fan-in ran once.
    done = query(service, "SELECT item FROM test_effects WHERE run_id = :r AND step = 'each'", r=run_id)
    assert sorted(int(r.item) for r in done) == [i for i in range(30) if i not in (7, 20)]
    assert scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r AND step = 'finish'", r=run_id) == 1
    # Eight messages of up to four items; each bad item was found by halving its chunk, not retried: each
    # message succeeded at its first attempt, so its arrival, with its timings, is all the ledger keeps of it.
    arrivals = query(service, "SELECT started_at, duration_ms FROM jobs.barrier_arrivals WHERE run_id = :r", r=run_id)
    assert len(arrivals) == 8 and all(a.started_at is not None and a.duration_ms > 0 for a in arrivals)
    wait_for(
        lambda: (
            scalar(
                service, "SELECT count(*) FROM jobs.steps WHERE run_id = :r AND actor = 'fan-chunked.each'", r=run_id
            )
            == 0
        ),
        10,
        what="the succeeded children's rows deleted",
    )
    children = LedgerView(service.engine).children(run_id, 0)
    assert len(children) == 30
    assert [c.position for c in children if c.status == "failed"] == [7, 20]
    assert "item 20 is bad" in children[20].error and children[21].status == "succeeded"


def test_a_chunk_limit_sends_fewer_items_a_message_and_the_run_ends_the_same(service, processes, vhost):
    processes("worker", extra_env={"WRLS_CHUNK_LIMIT": "1"})  # the step declares chunks of 4
    wait_worker_ready(vhost)
    run_id = service.trigger("fan-chunked", {"n": 6, "fail": [4]})
    run = wait_run_ended(service, run_id)
    assert (run.status, run.note) == ("completed-with-failures", "1 of 6 each items failed: 4")
    assert run.counts["children_ok"] == 5
    barrier = query(service, "SELECT expected, arrived, failed, chunk FROM jobs.barriers WHERE run_id = :r", r=run_id)
    assert [tuple(b) for b in barrier] == [(6, 6, 1, 1)]
    assert scalar(service, "SELECT count(*) FROM jobs.barrier_arrivals WHERE run_id = :r", r=run_id) == 6


def test_a_chunk_whose_items_are_all_bad_fails_each_by_name_and_a_strict_run_with_them(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    # Every item of the last chunk (8, 9) is bad: halving cannot save it.
    run_id = service.trigger("fan-chunked-strict", {"n": 10, "fail": [8, 9]})
    run = wait_run_ended(service, run_id)
    assert (run.status, run.error) == ("failed", "2 of 10 each items failed: 8, 9")
    assert scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r AND step = 'finish'", r=run_id) == 0


def test_a_job_can_make_child_failures_fail_the_run(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run_id = service.trigger("fan-strict", {"n": 10, "fail": [2, 5]})
    run = wait_run_ended(service, run_id)
    assert run.status == "failed"
    assert run.error == "2 of 10 each items failed: 2, 5"
    assert scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r AND step = 'finish'", r=run_id) == 0


def test_a_fan_out_of_nothing_goes_straight_on(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run_id = service.trigger("fan", {"n": 0})
    run = wait_run_ended(service, run_id)
    assert run.status == "succeeded"
    assert scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r AND step = 'finish'", r=run_id) == 1


def test_a_step_past_its_time_limit_is_recorded_as_timed_out(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run_id = service.trigger("slow", {"seconds": 8})
    run = wait_run_ended(service, run_id)
    assert run.status == "failed"
    assert "TimeLimitExceeded" in run.error
    # The worker's ledger writer records the step's end a flush interval after the run's (decisions are
    # written at once, step rows in batches): under load the test can look first.
    step = wait_for(
        lambda: next(
            (
                r
                for r in query(
                    service, "SELECT status, timeouts, duration_ms FROM jobs.steps WHERE run_id = :r", r=run_id
                )
                if r.status != "running"
            ),
            None,
        ),
        10,
        what="the step's final ledger row",
    )
    assert step.status == "timed-out" and step.timeouts == 1
    assert step.duration_ms < 5000  # interrupted near its 1 s limit, not left to run its 8 s
    assert scalar(service, "SELECT count(*) FROM jobs.events WHERE kind = 'timed-out' AND run_id = :r", r=run_id) == 1
    assert scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r", r=run_id) == 0


def test_a_step_can_end_its_run_early_with_a_note_and_nothing_later_runs(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    stopped = service.trigger("gate", {"stop": True})
    went_on = service.trigger("gate", {"stop": False}, force=True)
    run = wait_run_ended(service, stopped)
    assert (run.status, run.note) == ("succeeded", "nothing to do")
    assert wait_run_ended(service, went_on).note is None
    ran = {(r.run_id, r.step) for r in query(service, "SELECT run_id::text, step FROM test_effects")}
    assert ran == {(stopped, "check"), (went_on, "check"), (went_on, "after")}


def test_a_permanent_error_fails_the_step_at_once_without_retries(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run = wait_run_ended(service, service.trigger("bad-input"))
    assert run.status == "failed" and "the input is bad" in run.error
    assert scalar(service, "SELECT count(*) FROM test_attempts WHERE step = 'read'") == 1
    service.ledger.flush()
    assert scalar(service, "SELECT status FROM jobs.steps WHERE actor = 'bad-input.read'") == "failed"


def test_an_operators_start_records_who_and_why_with_the_run_and_a_refused_one_records_nothing(service):
    run_id = service.trigger("long-step", {"seconds": 30}, operator="jo@ops", reason="the import was late")
    untold = service.trigger("pipeline", operator="cli:jo")
    service.trigger("noop")  # a start by no person (a message's, a schedule's path): no event

    with pytest.raises(AlreadyRunning):
        service.trigger("long-step", {"seconds": 30}, operator="jo@ops", reason="again")

    events = query(service, "SELECT kind, job, run_id::text, operator, reason, detail FROM jobs.events ORDER BY id")
    assert [tuple(e) for e in events] == [
        ("run-triggered", "long-step", run_id, "jo@ops", "the import was late", "started by jo@ops (cli)"),
        ("run-triggered", "pipeline", untold, "cli:jo", None, "started by cli:jo (cli)"),
    ]
    forced = service.trigger("long-step", {"seconds": 1}, force=True, trigger="http", operator="jo@ops")
    [event] = query(service, "SELECT detail FROM jobs.events WHERE run_id = :r", r=forced)
    assert event.detail == "started by jo@ops (http), forced"
