"""Events of one message from several processes: the newest state always wins."""

import dataclasses
import threading
import uuid
from contextlib import closing
from datetime import UTC, date, datetime

from sqlalchemy import text

from tests.support.helpers import query, scalar
from tests.support.services import wait_for
from wrls_actors.runtime.database import labels_json
from wrls_actors.runtime.ledger_writer import (
    DURATION_BUCKETS_S,
    ENDED,
    QUEUED,
    RUNNING,
    StepEvent,
    counter_rows,
    merge,
    write_batch,
)


def event(status, attempt, deliveries, rank, **fields):
    return StepEvent(
        message_id="m",
        created_on=date(2026, 12, 7),
        actor="job.step",
        queue="q",
        status=status,
        attempt=attempt,
        deliveries=deliveries,
        rank=rank,
        **fields,
    )


def test_a_late_queued_event_does_not_overwrite_a_finished_one():
    rows = merge([event("succeeded", 1, 1, ENDED, duration_ms=5), event("queued", 1, 0, QUEUED, run_id="r")])
    assert rows["m"].status == "succeeded" and rows["m"].run_id == "r"


def test_a_retry_is_newer_than_the_failed_attempt_before_it():
    rows = merge(
        [
            event("running", 1, 1, RUNNING, started_at="t1"),
            event("retrying", 1, 1, ENDED, timeouts=1),
            event("queued", 2, 0, QUEUED),
        ]
    )
    assert (rows["m"].status, rows["m"].attempt, rows["m"].timeouts) == ("queued", 2, 1)


def test_counters_count_outcomes_and_durations():
    rows = dict(
        ((name, labels), value)
        for name, labels, value in counter_rows(
            [
                event("succeeded", 1, 1, ENDED, duration_ms=20, counted="succeeded"),
                event("retrying", 1, 1, ENDED, duration_ms=2000, counted="retried", timeouts=1),
            ]
        )
    )
    assert rows[("steps_total", '{"actor":"job.step","outcome":"succeeded","queue":"q"}')] == 1
    assert rows[("steps_timed_out_total", '{"actor":"job.step","queue":"q"}')] == 1
    assert rows[("step_duration_seconds_count", '{"actor":"job.step","queue":"q"}')] == 2
    assert rows[("step_duration_seconds_bucket", '{"actor":"job.step","le":"0.05","queue":"q"}')] == 1
    assert rows[("step_duration_seconds_bucket", '{"actor":"job.step","le":"5","queue":"q"}')] == 2


def test_duration_buckets_are_cumulative_per_actor_bounds_included_and_rows_come_sorted():
    # Durations on every bound, between bounds and past the last; the second actor has fewer of them.
    durations_s = [*DURATION_BUCKETS_S, 0.001, 0.007, 0.3, 2.5, 4000]
    per_actor = {"a.one": durations_s, "b.two": durations_s[:-3]}
    events = [
        dataclasses.replace(event("succeeded", 1, 1, ENDED, duration_ms=s * 1000, counted="succeeded"), actor=actor)
        for actor, durations in per_actor.items()
        for s in durations
    ]
    rows = counter_rows(events)
    assert rows == sorted(rows)
    got = {(name, labels): value for name, labels, value in rows}
    for actor in per_actor:
        seconds = [e.duration_ms / 1000 for e in events if e.actor == actor]
        plain = labels_json({"actor": actor, "queue": "q"})
        assert got[("step_duration_seconds_count", plain)] == len(seconds)
        assert got[("steps_total", labels_json({"actor": actor, "queue": "q", "outcome": "succeeded"}))] == len(seconds)
        for bound in DURATION_BUCKETS_S:
            expected = sum(1 for s in seconds if s <= bound)
            key = ("step_duration_seconds_bucket", labels_json({"actor": actor, "queue": "q", "le": str(bound)}))
            assert got.get(key, 0) == expected, (actor, bound)


def test_a_batch_deleting_one_child_row_and_updating_another_never_holds_the_first_while_waiting_for_the_second(
    service,
):
    """The fan-in's firing locks its children's rows in message-id order (SETTLE_CHILDREN). A batch that
    deleted a child's row and then waited for another child's row, in one transaction, deadlocked with it
    (a CI run: the last child's firing was the victim, its message retried, its row left 'retrying')."""
    today = datetime.now(UTC).date()
    first, second = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"  # second > first, as SETTLE_CHILDREN orders them

    def child(message_id, status, rank, **fields):
        return dataclasses.replace(
            event(status, 1, 1, rank, **fields), message_id=message_id, created_on=today, actor="fan.each"
        )

    engine = service.engine
    with closing(engine.raw_connection()) as setup:
        write_batch(setup, [child(first, "running", RUNNING), child(second, "running", RUNNING)])
    # `second` succeeded at once (its row goes); `first` was redelivered (its row is kept, succeeded).
    batch = [
        child(second, "succeeded", ENDED, duration_ms=3, drop_row=True),
        dataclasses.replace(child(first, "succeeded", ENDED, duration_ms=5), deliveries=2),
    ]
    errors = []
    with engine.connect() as firing:
        firing.execute(text("SELECT 1 FROM jobs.steps WHERE message_id = :m FOR UPDATE"), {"m": first})
        with closing(engine.raw_connection()) as writer_connection:
            writer_pid = writer_connection.dbapi_connection.info.backend_pid

            def write():
                try:
                    write_batch(writer_connection, batch)
                except Exception as e:
                    errors.append(e)

            writer = threading.Thread(target=write)
            writer.start()
            wait_for(
                lambda: (
                    scalar(service, "SELECT wait_event_type FROM pg_stat_activity WHERE pid = :p", p=writer_pid)
                    == "Lock"
                ),
                10,
                what="the batch waiting for the row the firing holds",
            )
            # The firing's next row: free, not held by the waiting batch.
            firing.execute(text("SET LOCAL lock_timeout = '5s'"))
            firing.execute(text("SELECT 1 FROM jobs.steps WHERE message_id = :m FOR UPDATE"), {"m": second})
            firing.commit()
            writer.join(10)
    assert not errors, errors
    rows = query(service, "SELECT message_id, status FROM jobs.steps WHERE message_id IN (:a, :b)", a=first, b=second)
    assert [(r.message_id, r.status) for r in rows] == [(first, "succeeded")]
