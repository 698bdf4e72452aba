"""The exporter, scraped over HTTP while real workers run."""

import json
import urllib.request
from datetime import datetime, timezone

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
    service.scheduling.handle("unbuilt", datetime(2024, 1, 15, 3, 0, tzinfo=timezone.utc), "tick-1")
    svc.wait_for(lambda: svc.queue_stats(vhost, "long").get("messages_ready") == 1, 20, what="stats of long")
    svc.wait_for(lambda: scalar(service, "SELECT count(*) FROM jobs.steps WHERE status = 'succeeded'") == 31, 10,
                 what="the ledger to catch up")

    # RabbitMQ's management statistics lag by a few seconds.
    samples = svc.wait_for(lambda: (s := scrape(port)) and value(s, "wrls_queue_ready", queue="long") == 1
                           and value(s, "wrls_queue_dead_lettered", queue="short") == 1 and s,
                           30, interval_s=1, what="the exporter to see the parked and the dead-lettered message")
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
        return {state: value(samples, "wrls_run_items", job="fan", state=state)
                for state in ("total", "ended", "failed")}

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
