"""The exporter, scraped over HTTP while real workers run."""

import json
import urllib.request
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import services as svc
from tests.support.helpers import free_port, scalar, wait_run_ended, wait_worker_ready


def scrape(port: int) -> dict:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def first_scrape(port: int) -> dict:
    def attempt():
        try:
            return scrape(port)
        except OSError:  # not listening yet
            return None

    return svc.wait_for(attempt, 30, interval_s=0.5, what="the exporter to answer")


@pytest.mark.schedules("unbuilt")
def test_metrics_count_runs_steps_ticks_and_queues_across_worker_processes(service, processes, vhost):
    port = free_port()
    processes("worker", "--processes", "2", "--queues", "short", "control", "schedule")
    processes("exporter", extra_env={"WRLS_METRICS_PORT": str(port)})
    wait_worker_ready(vhost)
    runs = [service.trigger("pipeline", force=True) for _ in range(10)]
    failed = service.trigger("fail-fast")
    for run_id in runs + [failed]:
        wait_run_ended(service, run_id)
    parked = service.trigger("fan")  # its queue, long, has no consumer: the message waits there
    service.scheduling.handle("unbuilt", datetime(2024, 1, 15, 3, 0, tzinfo=UTC), "tick-1")
    svc.wait_for(lambda: svc.queue_stats(vhost, "long").get("messages_ready") == 1, 20, what="stats of long")
    svc.wait_for(
        lambda: scalar(service, "SELECT count(*) FROM jobs.steps WHERE status = 'succeeded'") == 31,
        10,
        what="the ledger to catch up",
    )

    # RabbitMQ's management statistics lag by a few seconds.
    samples = svc.wait_for(
        lambda: (
            (s := scrape(port))
            and value(s, "wrls_queue_ready", queue="long") == 1
            and value(s, "wrls_queue_dead_lettered", queue="short") == 1
            and s
        ),
        30,
        interval_s=1,
        what="the exporter to see the parked and the dead-lettered message",
    )
    assert value(samples, "wrls_ledger_up") == 1 and value(samples, "wrls_broker_up") == 1
    assert value(samples, "wrls_runs_total", job="pipeline", outcome="succeeded") == 10
    assert value(samples, "wrls_runs_total", job="fail-fast", outcome="failed") == 1
    assert value(samples, "wrls_runs_started_total", job="fan", trigger="cli") == 1
    assert value(samples, "wrls_runs_running", job="fan") == 1
    assert 0 < value(samples, "wrls_run_oldest_running_seconds", job="fan") < 120
    assert value(samples, "wrls_run_oldest_running_seconds", job="pipeline") is None
    # 10 runs x 3 steps, spread over two worker processes, each counted once.
    assert value(samples, "wrls_steps_total", actor="pipeline.first", queue="short", outcome="succeeded") == 10
    assert value(samples, "wrls_steps_total", actor="fail-fast.broken", queue="short", outcome="retried") == 1
    assert value(samples, "wrls_steps_total", actor="fail-fast.broken", queue="short", outcome="failed") == 1
    assert value(samples, "wrls_step_duration_seconds_count", actor="pipeline.third", queue="short") == 10
    assert value(samples, "wrls_run_duration_seconds_count", job="pipeline") == 10
    assert value(samples, "wrls_run_duration_seconds_bucket", job="pipeline", le="+Inf") == 10
    last = value(samples, "wrls_job_last_success_timestamp_seconds", job="pipeline")
    newest = scalar(service, "SELECT extract(epoch FROM max(finished_at)) FROM jobs.runs WHERE job = 'pipeline'")
    assert abs(last - float(newest)) < 0.01
    assert value(samples, "wrls_ticks_total", schedule="unbuilt", outcome="no-steps") == 1
    assert value(samples, "wrls_queue_consumers", queue="short") >= 1
    assert value(samples, "wrls_queue_dead_lettered", queue="short") == 1  # the failed step's message
    assert value(samples, "wrls_schedule_expected_period_seconds", schedule="unbuilt", job="unbuilt") == 86400
    assert not any(name == "wrls_steps_stalled" for name, _ in samples)
    assert parked

    health = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10))
    assert health == {"database": "ok", "broker": "ok"}


def test_run_items_show_the_fan_out_progress_of_running_runs_per_job(service, processes):
    port = free_port()
    processes("exporter", extra_env={"WRLS_METRICS_PORT": str(port)})
    control = service.control
    # No worker: the test moves two runs through their fan-outs as the workers would.
    first = service.trigger("fan")
    second = service.trigger("fan", force=True)
    control.fan_out(first, 0, ["a", "b", "c"])
    control.fan_out(second, 0, ["d", "e"])

    def items(samples: dict) -> dict:
        return {
            state: value(samples, "wrls_run_items", job="fan", state=state) for state in ("total", "ended", "failed")
        }

    assert items(first_scrape(port)) == {"total": 5, "ended": 0, "failed": 0}
    control.arrive(first, 0, "child-a", failed=False)
    control.arrive(first, 0, "child-b", failed=True)
    assert items(scrape(port)) == {"total": 5, "ended": 2, "failed": 1}

    control.arrive(first, 0, "child-c", failed=False)  # the last child: fan-in, "finish" is queued
    assert items(scrape(port)) == {"total": 5, "ended": 3, "failed": 1}
    control.advance(first, 1)  # "finish" done: the first run ends and leaves the sums
    samples = scrape(port)
    assert items(samples) == {"total": 2, "ended": 0, "failed": 0}
    assert value(samples, "wrls_runs_total", job="fan", outcome="completed-with-failures") == 1

    control.fail(second, "stopped by the test")
    assert not any(name == "wrls_run_items" for name, _ in scrape(port))


def test_a_fresh_exporter_serves_every_known_series_at_0_before_anything_runs(service, processes):
    port = free_port()
    processes("exporter", extra_env={"WRLS_METRICS_PORT": str(port)})
    samples = first_scrape(port)
    actors = [("start-job", "control")] + [(f"tick.{name}", "schedule") for name in service.schedules]
    for job in service.jobs.values():
        for step in job.steps:
            actors.append((job.actor_name(step), job.queue_of(step)))
            if step.fan_out is not None:
                actors.append((job.actor_name(step.fan_out), job.queue_of(step.fan_out)))
    assert ("fan.each", "long") in actors and len(actors) > 20
    for actor, queue in actors:
        labels = {"actor": actor, "queue": queue}
        # Every bucket, so the first observation of each shows in rate().
        buckets = {
            k[1]
            for k in samples
            if k[0] == "wrls_step_duration_seconds_bucket" and {n: v for n, v in k[1] if n != "le"} == labels
        }
        assert len(buckets) == 14, (actor, buckets)  # 13 bounds and +Inf
        assert all(samples[("wrls_step_duration_seconds_bucket", b)] == 0 for b in buckets)
        assert value(samples, "wrls_step_duration_seconds_count", **labels) == 0
        assert value(samples, "wrls_step_duration_seconds_sum", **labels) == 0
        for outcome in ("succeeded", "retried", "failed", "timed-out", "skipped", "dead-lettered"):
            assert value(samples, "wrls_steps_total", **labels, outcome=outcome) == 0, (actor, outcome)
        for name in ("wrls_steps_timed_out_total", "wrls_steps_stalled_total", "wrls_steps_redelivered_total"):
            assert value(samples, name, **labels) == 0, (name, actor)
    for job in service.jobs:
        assert value(samples, "wrls_run_duration_seconds_bucket", job=job, le="1.0") == 0
        assert value(samples, "wrls_run_duration_seconds_count", job=job) == 0
        assert value(samples, "wrls_runs_total", job=job, outcome="failed") == 0
        assert value(samples, "wrls_runs_started_total", job=job, trigger="schedule") == 0
    for schedule in service.schedules:
        for outcome in ("started", "suppressed", "missed", "double-start"):
            assert value(samples, "wrls_ticks_total", schedule=schedule, outcome=outcome) == 0
    assert value(samples, "wrls_messages_rejected_total") == 0

    # The first observation is then one more than 0, not a series appearing from nowhere.
    run_id = service.trigger("slow", {"seconds": 0})
    service.control.advance(run_id, 0)
    samples = scrape(port)
    assert value(samples, "wrls_run_duration_seconds_count", job="slow") == 1
    assert value(samples, "wrls_run_duration_seconds_count", job="pipeline") == 0
