"""RabbitMQ and PostgreSQL stopped and started under a running fan-out: nothing lost, nothing
done twice where it must not be, and the ledger tells the truth."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from tests.faults.fan_out import check_fan_out, wait_effects
from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_worker_ready

# They stop services every other test uses: `make test` runs them first, alone.
pytestmark = [pytest.mark.slow, pytest.mark.exclusive]

CHILDREN = 2500


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
    check_fan_out(service, run_id, tally, CHILDREN)

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
    check_fan_out(service, run_id, tally, CHILDREN)
    # The ledger agrees with itself: the run's step rows all settled, the counters match the rows.
    assert scalar(service, "SELECT count(*) FROM jobs.steps WHERE run_id = :r AND status = 'running'", r=run_id) == 0
    assert scalar(service, "SELECT count(*) FROM jobs.runs WHERE status = 'running'") == 0
