"""RabbitMQ and PostgreSQL stopped and started under a running fan-out: nothing lost, nothing
done twice where it must not be, and the ledger tells the truth."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready

# They stop services every other test uses: `make test` runs them first, alone.
pytestmark = [pytest.mark.slow, pytest.mark.exclusive]

CHILDREN = 2500


def effects(service, run_id: str) -> int:
    return scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r AND step = 'each'", r=run_id)


def attempts(service, run_id: str) -> int:
    return scalar(
        service,
        """
        SELECT count(*) FROM test_attempts a JOIN test_effects e ON e.message_id = a.message_id AND e.step = a.step
        WHERE e.run_id = :r AND a.step = 'each'""",
        r=run_id,
    )


def wait_effects(service, run_id: str, at_least: int, timeout_s: float = 120) -> None:
    svc.wait_for(
        lambda: effects(service, run_id) >= at_least, timeout_s, interval_s=0.2, what=f"{at_least} children done"
    )


def check_fan_out(service, run_id: str, tally) -> None:
    """Every child ended exactly once in the ledger and in effect; redone work is counted, not hidden."""
    run = wait_run_ended(service, run_id, timeout_s=300)
    done = effects(service, run_id)
    tally.sent, tally.completed = CHILDREN, done
    tally.duplicated = attempts(service, run_id) - done
    tally.lost = CHILDREN - done
    assert run.status == "succeeded", run.error
    assert done == CHILDREN
    assert run.counts["children_ok"] == CHILDREN  # each child's arrival counted once
    service.ledger.flush()
    rows = svc.wait_for(
        lambda: (lambda r: r if r.ended == CHILDREN else None)(
            query(
                service,
                """
        SELECT count(*) FILTER (WHERE status = 'succeeded') AS ended, count(*) AS rows,
               count(DISTINCT message_id) AS messages
        FROM jobs.steps WHERE run_id = :r AND actor = 'fan-steady.each'""",
                r=run_id,
            )[0]
        ),
        60,
        what="every child's ledger row settled",
    )
    assert rows.rows == rows.messages == CHILDREN


@pytest.mark.schedules("noop")
def test_rabbitmq_stopped_mid_fan_out_workers_and_scheduler_reconnect_and_every_child_ends_once(
    service, processes, vhost, rabbitmq, tally
):
    processes("worker")
    processes("worker")
    wait_worker_ready(vhost, "long")
    scheduler = processes("scheduler")
    run_id = service.trigger("fan-steady", {"n": CHILDREN})
    wait_effects(service, run_id, CHILDREN // 5)

    rabbitmq.stop()
    stopped_at = datetime.now(UTC)
    tally.faults.append("RabbitMQ stopped")
    time.sleep(3)
    rabbitmq.start()
    tally.faults.append("RabbitMQ started")
    check_fan_out(service, run_id, tally)

    # The scheduler reconnected: a tick of the 15-second schedule that fell after the broker went away started a
    # run that succeeded. (A run started after the outage is not enough: it may belong to a tick from before it.)
    later = svc.wait_for(
        lambda: query(
            service,
            """
        SELECT t.nominal_time FROM jobs.ticks t JOIN jobs.runs r ON r.run_id = t.run_id
        WHERE t.schedule = 'noop' AND t.nominal_time > :t AND r.status = 'succeeded'
        ORDER BY t.nominal_time LIMIT 1""",
            t=stopped_at,
        ),
        120,
        interval_s=1,
        what="a tick after the outage whose run succeeded",
    )
    assert scheduler.alive()
    # Every tick from the outage to that one is in the ledger with an outcome (started late, caught up or
    # missed), not silently gone.
    ticks = query(
        service,
        "SELECT nominal_time, outcome FROM jobs.ticks WHERE schedule = 'noop' AND nominal_time BETWEEN :a AND :b",
        a=stopped_at,
        b=later[0].nominal_time,
    )
    # (skipped-overlap: the run of the tick before could not finish while the broker was away.)
    assert ticks and {t.outcome for t in ticks} <= {"started", "late", "caught-up", "missed", "skipped-overlap"}


def test_postgresql_restarted_mid_fan_out_steps_retry_and_the_ledger_stays_consistent(
    service, processes, vhost, postgresql, tally
):
    processes("worker")
    wait_worker_ready(vhost, "long")
    run_id = service.trigger("fan-steady", {"n": CHILDREN})
    wait_effects(service, run_id, CHILDREN // 5)

    postgresql.restart()
    tally.faults.append("PostgreSQL restarted (fast shutdown)")
    service.engine.dispose()  # the test's own pooled connections died with it
    check_fan_out(service, run_id, tally)
    # The ledger agrees with itself: the run's step rows all settled, the counters match the rows.
    assert scalar(service, "SELECT count(*) FROM jobs.steps WHERE run_id = :r AND status = 'running'", r=run_id) == 0
    assert scalar(service, "SELECT count(*) FROM jobs.runs WHERE status = 'running'") == 0
