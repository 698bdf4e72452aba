"""A step that hangs past its time limit, and a flood of 100,000 messages beside a 15-second schedule."""

from __future__ import annotations

import time
import urllib.request
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import services as svc
from tests.support.helpers import free_port, query, scalar, wait_run_ended, wait_worker_ready

pytestmark = pytest.mark.slow

FLOOD = 100_000


def stalled_series(port: int) -> dict[str, float]:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {
        sample.labels["actor"]: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == "wrls_steps_stalled"
    }


def test_a_hung_step_is_reported_stalled_while_other_steps_keep_flowing(service, processes, vhost, tally):
    port = free_port()
    processes("worker")
    processes("exporter", extra_env={"WRLS_METRICS_PORT": str(port)})
    wait_worker_ready(vhost, "long")
    # One blocking call that ignores the step's 1-second time limit.
    hung = service.trigger("hung", {"seconds": 25})
    tally.faults.append("a step blocked 25 s past a 1 s time limit")
    series = svc.wait_for(
        lambda: (s := stalled_series(port)).get("hung.work") == 1 and s,
        20,
        interval_s=0.5,
        what="wrls_steps_stalled for the hung step",
    )
    assert series["hung.work"] == 1  # the series the StepStalled alert reads
    # Meanwhile the other worker threads keep going.
    runs = [service.trigger("pipeline", force=True) for _ in range(5)]
    ended = [wait_run_ended(service, run_id, timeout_s=30) for run_id in runs]
    tally.sent, tally.completed = len(runs) * 3, sum(r.status == "succeeded" for r in ended) * 3
    assert all(r.status == "succeeded" for r in ended)
    assert scalar(service, "SELECT status FROM jobs.runs WHERE run_id = :r", r=hung) == "running"


# Its point is timing under load: it runs alone (`make test` runs the exclusive tests first).
@pytest.mark.exclusive
@pytest.mark.schedules("pulse")
def test_a_flood_of_100000_messages_does_not_delay_a_15_second_schedule(service, processes, vhost, tally):
    # A tick handled more than 5 s after its time is recorded late: the test asks for none.
    timing = {"WRLS_LATE_AFTER_S": "5"}
    # One thread on the bulk queue: it publishes the flood, then works through it while the ticks come.
    bulk = processes("worker", "--queues", "long", extra_env={**timing, "WRLS_WORKER_THREADS": "1"})
    processes("worker", "--queues", "schedule", "control", "short", extra_env=timing)
    wait_worker_ready(vhost, "short")
    processes("scheduler", extra_env=timing)
    run_id = service.trigger("fan-steady", {"n": FLOOD})
    # The whole flood is in RabbitMQ once the fan-out step has published it.
    svc.wait_for(
        lambda: scalar(
            service,
            "SELECT count(*) FROM jobs.steps WHERE run_id = :r "
            "AND actor = 'fan-steady.prepare' AND status = 'succeeded'",
            r=run_id,
        ),
        120,
        interval_s=1,
        what="the flood published",
    )
    flooded_at = datetime.now(UTC)
    tally.faults.append(f"{FLOOD:,} messages queued at once")

    def ticks():
        rows = query(
            service,
            "SELECT * FROM jobs.ticks WHERE schedule = 'pulse' AND nominal_time > :t ORDER BY nominal_time",
            t=flooded_at,
        )
        return rows if len(rows) >= 2 else None

    during = svc.wait_for(ticks, 60, interval_s=1, what="two 15-second ticks during the flood")
    assert [t.outcome for t in during] == ["started"] * len(during)
    for tick in during:
        assert wait_run_ended(service, str(tick.run_id), timeout_s=20).status == "succeeded"

    # Stop the bulk worker (gracefully: what it holds is finished or handed back), then count.
    bulk.terminate()
    bulk.popen.wait(60)
    queued = svc.wait_for(
        lambda: (lambda a, b: a if a == b else None)(
            svc.queue_stats(vhost, "long").get("messages"),
            (time.sleep(6), svc.queue_stats(vhost, "long"))[1].get("messages"),
        ),
        60,
        what="settled queue statistics",
    )
    done = scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r AND step = 'each'", r=run_id)
    tried = scalar(
        service,
        "SELECT count(*) FROM test_attempts a JOIN test_effects e USING (message_id, step) "
        "WHERE e.run_id = :r AND a.step = 'each'",
        r=run_id,
    )
    tally.sent, tally.completed, tally.duplicated = FLOOD, done, tried - done
    tally.lost = FLOOD - done - queued  # what is still queued when the test ends is not lost
    assert queued > 0, "the flood drained before the ticks: not a test of anything"
    assert tally.lost == 0 and tally.duplicated == 0
