"""Cheap fan-out children run in batches by one worker thread (child_batches.py): their starts and arrivals
written together, nothing acknowledged before its arrival is committed, a failing child alone."""

import dramatiq
from dramatiq.middleware import Middleware
from sqlalchemy import text

from tests.faults.fan_out import attempts, effects
from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from wrls_actors.runtime.rabbitmq import BATCH_PREFETCH, Rabbitmq

# One thread: without batches each child's arrival is committed alone, before the thread takes the next
# child. Prefetch (Dramatiq's setting) above the thread count, so that children wait in the process.
ONE_THREAD = {"WRLS_WORKER_THREADS": "1", "dramatiq_queue_prefetch": "40"}


def arrivals(service, run_id: str):
    return query(
        service,
        "SELECT count(*) AS n, count(DISTINCT message_id) AS messages, count(*) FILTER (WHERE failed) AS failed, "
        "sum(items) AS items FROM jobs.barrier_arrivals WHERE run_id = :r",
        r=run_id,
    )[0]


def largest_arrival_statement(service, run_id: str) -> int:
    # now() is the statement's transaction's start: the arrivals one statement counted share it.
    return scalar(
        service,
        "SELECT max(n) FROM (SELECT count(*) AS n FROM jobs.barrier_arrivals WHERE run_id = :r GROUP BY arrived_at) g",
        r=run_id,
    )


def test_one_thread_runs_cheap_children_in_batches_and_a_failing_child_fails_alone(service, processes, vhost):
    processes("worker", extra_env=ONE_THREAD)
    wait_worker_ready(vhost, "long")
    run_id = service.trigger("fan", {"n": 300, "fail": [150]})
    run = wait_run_ended(service, run_id, timeout_s=120)

    assert run.status == "completed-with-failures", run.error
    assert "150" in run.note
    counted = arrivals(service, run_id)
    assert (counted.n, counted.messages, counted.failed, counted.items) == (300, 300, 1, 300)
    assert largest_arrival_statement(service, run_id) > 1
    assert effects(service, run_id) == attempts(service, run_id) == 299
    # The bad child was retried, alone, and failed for good; its siblings keep no row (their arrivals do), once
    # the ledger writer's next flush has dropped the rows their starts wrote.
    rows = svc.wait_for(
        lambda: (lambda found: found if len(found) == 1 else None)(
            query(service, "SELECT status, attempt FROM jobs.steps WHERE run_id = :r AND actor = 'fan.each'", r=run_id)
        ),
        10,
        what="one fan.each row left in jobs.steps",
    )
    assert [(row.status, row.attempt) for row in rows] == [("failed", 2)]


def test_children_whose_arrivals_could_not_be_committed_go_back_to_their_queue_and_count_once(
    service, processes, vhost
):
    # The first statement that counts more than one arrival (with one thread: a batch's) is refused, once.
    with service.engine.begin() as connection:
        connection.execute(
            text(
                """
                CREATE SEQUENCE arrival_faults;
                CREATE FUNCTION refuse_a_batch() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF (SELECT count(*) FROM counted) > 1 AND nextval('arrival_faults') = 1 THEN
                        RAISE EXCEPTION 'arrivals refused by the test';
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER refuse_a_batch AFTER INSERT ON jobs.barrier_arrivals
                    REFERENCING NEW TABLE AS counted FOR EACH STATEMENT EXECUTE FUNCTION refuse_a_batch();
                """
            )
        )
    worker = processes("worker", extra_env=ONE_THREAD)
    wait_worker_ready(vhost, "long")
    run_id = service.trigger("fan-steady", {"n": 200})
    run = wait_run_ended(service, run_id, timeout_s=120)

    assert run.status == "succeeded", run.error
    assert run.counts["children_ok"] == 200
    counted = arrivals(service, run_id)
    assert (counted.n, counted.messages, counted.failed) == (200, 200, 0)
    done, tried = effects(service, run_id), attempts(service, run_id)
    # The refused statement's children ran again (their effect once): none was acknowledged uncounted.
    assert done == 200 and tried > done
    assert "goes back to its queue" in worker.output()


class _Options(Middleware):
    actor_options = {"batchable"}


def held_unacknowledged(consumer) -> int:
    """How many messages RabbitMQ hands the consumer before waiting for an acknowledgement (its prefetch)."""
    held = 0
    while next(consumer) is not None:  # None: nothing more came within the consumer's timeout
        held += 1
    return held


def test_a_queue_of_batchable_children_only_is_prefetched_deeper(vhost):
    broker = Rabbitmq([svc.broker_url(vhost)], queue_type="classic", max_deliveries=3, middleware=[_Options()])
    try:
        dramatiq.actor(actor_name="kid", queue_name="kids", broker=broker, batchable=True)(lambda: None)
        dramatiq.actor(actor_name="other-kid", queue_name="mixed", broker=broker, batchable=True)(lambda: None)
        dramatiq.actor(actor_name="step", queue_name="mixed", broker=broker)(lambda: None)
        for queue, actor in (("kids", "kid"), ("mixed", "step")):
            for _ in range(3 * BATCH_PREFETCH):
                broker.enqueue(dramatiq.Message(queue_name=queue, actor_name=actor, args=(), kwargs={}, options={}))
        held = {}
        for queue in ("kids", "mixed"):
            consumer = broker.consume(queue, prefetch=2, timeout=300)
            held[queue] = held_unacknowledged(consumer)
            consumer.close()
    finally:
        broker.close()
    assert held == {"kids": 2 * BATCH_PREFETCH, "mixed": 2}


def test_children_waiting_behind_a_long_one_in_their_batch_are_not_taken_for_stalled(service, processes, vhost):
    # WRLS_STALL_AFTER_S is 4 here: a slow child takes 6 s while the rest of its batch waits, recorded running.
    # Four slow children, each after enough quick ones for their actor to count as quick again: a slow one
    # taken when no other child had reached the process yet runs alone (a busy machine), the others need not.
    slow = [1, 61, 121, 181]
    processes("worker", extra_env=ONE_THREAD)
    wait_worker_ready(vhost, "long")
    run_id = service.trigger("fan-lagging", {"n": 240, "slow": slow, "seconds": 6})
    run = wait_run_ended(service, run_id, timeout_s=180)

    assert run.status == "succeeded", run.error
    # The largest batch with a slow child in it: the children counted with it waited for it.
    held_up = scalar(
        service,
        "SELECT max(n) FROM (SELECT count(*) AS n FROM jobs.barrier_arrivals a "
        "JOIN jobs.barrier_arrivals s USING (run_id, arrived_at) "
        "JOIN test_effects e ON e.message_id = s.message_id AND e.item = ANY(:slow) "
        "WHERE a.run_id = :r GROUP BY s.message_id) g",
        r=run_id,
        slow=[str(item) for item in slow],
    )
    assert held_up > 1
    assert effects(service, run_id) == attempts(service, run_id) == 240
    assert scalar(service, "SELECT count(*) FROM jobs.events WHERE kind = 'stalled' AND run_id = :r", r=run_id) == 0
