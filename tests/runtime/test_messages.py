"""Messages from other services, and bad ones: sent with plain pika, not Dramatiq."""

import json
import time
import uuid

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.messages import TEST_MESSAGE_KEY, publish, signed
from wrls_actors.runtime.runs import step_message_id


def test_a_plain_json_message_published_with_pika_starts_a_job(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost, "control")
    body = {"queue_name": "control", "actor_name": "start-job", "kwargs": {"job": "pipeline", "params": {"x": 1}},
            "message_id": str(uuid.uuid4())}
    publish(vhost, "control", json.dumps(body).encode())
    run = svc.wait_for(lambda: query(service, "SELECT * FROM jobs.runs WHERE trigger = 'message'"), 30,
                       what="a run started by the message")[0]
    assert run.job == "pipeline" and run.params == {"x": 1} and run.trigger_key == body["message_id"]
    assert wait_run_ended(service, str(run.run_id)).status == "succeeded"
    # The same message delivered again (same id) does not start the job twice.
    publish(vhost, "control", json.dumps(body).encode())
    time.sleep(2)
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 1


def test_malformed_unknown_and_wrong_messages_are_dead_lettered_with_a_reason(service, processes, vhost):
    worker = processes("worker")
    wait_worker_ready(vhost, "control")
    publish(vhost, "control", b"{not json")
    publish(vhost, "control", json.dumps({"queue_name": "control", "actor_name": "no-such-actor"}).encode())
    publish(vhost, "control", json.dumps({"queue_name": "control", "actor_name": "start-job",
                                          "kwargs": {"job": "no-such-job"}}).encode())
    publish(vhost, "control", json.dumps({"queue_name": "control", "actor_name": "start-job",
                                          "kwargs": {"job": "pipeline", "colour": "blue"}}).encode())
    svc.wait_for(lambda: svc.queue_stats(vhost, "control.XQ").get("messages", 0) == 4, 30,
                 what="four messages in control.XQ")
    rejected = query(service, "SELECT detail FROM jobs.events WHERE kind = 'rejected'")
    assert len(rejected) == 1 and "body is not JSON" in rejected[0].detail and "{not json" in rejected[0].detail
    svc.wait_for(lambda: scalar(service, "SELECT count(*) FROM jobs.steps WHERE status = 'dead-lettered'") == 3, 10,
                 what="three dead-lettered steps in the ledger")
    errors = sorted(r.error for r in query(service, "SELECT error FROM jobs.steps WHERE status = 'dead-lettered'"))
    assert errors == ["BadMessage: unexpected arguments: colour", "BadMessage: unknown job 'no-such-job'",
                      "no actor named 'no-such-actor'"]
    # The worker survived all of it and still works.
    assert worker.alive()
    run_id = service.trigger("pipeline")
    assert wait_run_ended(service, run_id).status == "succeeded"


def test_a_step_message_with_wrong_arguments_is_dead_lettered_not_retried(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    publish(vhost, "short", signed({"queue_name": "short", "actor_name": "pipeline.first",
                                    "message_id": str(uuid.uuid4()), "kwargs": {"run_id": "not-a-uuid"}}))
    row = svc.wait_for(lambda: query(service, "SELECT * FROM jobs.steps WHERE actor = 'pipeline.first'"
                                              " AND status = 'dead-lettered'"), 20, what="the dead letter")[0]
    assert row.attempt == 1 and row.error == "BadMessage: run_id is not a UUID: 'not-a-uuid'"


FRESH_APP = "tests.support.sample_app:fresh_service"
ZERO_RUN = "00000000-0000-0000-0000-000000000000"


def rejected(service) -> list:
    return query(service, "SELECT detail FROM jobs.events WHERE kind = 'rejected' ORDER BY at")


def test_a_rejected_body_is_recorded_and_counted_once_by_the_real_worker(service, processes, vhost):
    # A factory app: the worker's main process and its forked worker process each build a Service.
    processes("worker", app=FRESH_APP)
    wait_worker_ready(vhost, "control")
    publish(vhost, "control", b"{not json")
    svc.wait_for(lambda: svc.queue_stats(vhost, "control.XQ").get("messages", 0) == 1, 30,
                 what="the body in control.XQ")
    time.sleep(1)  # a second record, if any, is written by the same worker right after the first
    assert len(rejected(service)) == 1
    assert scalar(service, "SELECT value FROM jobs.counters WHERE name = 'messages_rejected_total'") == 1


def test_a_body_over_the_size_limit_is_dead_lettered_unparsed_with_its_size(service, processes, vhost):
    processes("worker", extra_env={"WRLS_MAX_MESSAGE_BYTES": "1000"})
    wait_worker_ready(vhost, "control")
    body = json.dumps({"queue_name": "control", "actor_name": "start-job",
                       "kwargs": {"job": "pipeline", "params": {"x": "y" * 2000}}}).encode()
    publish(vhost, "control", body)
    svc.wait_for(lambda: svc.queue_stats(vhost, "control.XQ").get("messages", 0) == 1, 30,
                 what="the body in control.XQ")
    detail = svc.wait_for(lambda: rejected(service), 10, what="the rejection")[0].detail
    assert f"body is {len(body)} bytes, over the limit of 1000" in detail
    assert len(detail) < 400  # an excerpt, not the body
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 0


def test_unsigned_and_badly_signed_step_and_tick_messages_are_dead_lettered_not_run(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run_id = service.trigger("long-step", {"seconds": 0})
    wait_run_ended(service, run_id)
    # A real step of a real run, as anyone with access to the vhost could publish it.
    body = {"queue_name": "long", "actor_name": "long-step.work", "message_id": str(uuid.uuid4()),
            "kwargs": {"run_id": run_id, "params": {}}}
    publish(vhost, "long", json.dumps(body).encode())
    publish(vhost, "long", signed({**body, "message_id": str(uuid.uuid4())}, key="another-key-" + "x" * 32))
    publish(vhost, "schedule", json.dumps({"queue_name": "schedule", "actor_name": "tick.pipeline",
                                           "options": {"scheduled_at": "2026-01-01T00:00:00+00:00"}}).encode())
    # Through a delay queue, which the worker itself moves on to the queue when due.
    publish(vhost, "long.DQ", json.dumps({**body, "queue_name": "long.DQ", "message_id": str(uuid.uuid4()),
                                          "options": {"eta": int(time.time() * 1000)}}).encode())
    svc.wait_for(lambda: svc.queue_stats(vhost, "long.XQ").get("messages", 0) == 3
                 and svc.queue_stats(vhost, "schedule.XQ").get("messages", 0) == 1, 30,
                 what="four messages dead-lettered")
    details = sorted(r.detail for r in rejected(service))
    assert len(details) == 4
    assert details[0].startswith("bad signature message for long-step.work on long")
    assert details[1].startswith("unsigned message for long-step.work on long")
    assert details[2].startswith("unsigned message for tick.pipeline on schedule")
    assert details[3].startswith("unsigned or badly signed (found leaving its delay queue) message for long-step.work")
    assert TEST_MESSAGE_KEY not in " ".join(details)
    assert scalar(service, "SELECT count(*) FROM test_attempts WHERE step = 'started'") == 1
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 1
    assert scalar(service, "SELECT value FROM jobs.counters WHERE name = 'messages_rejected_total'") == 4


def test_a_step_message_for_a_run_that_does_not_exist_is_dead_lettered_as_stray(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    body = {"queue_name": "short", "actor_name": "pipeline.first", "message_id": str(uuid.uuid4()),
            "kwargs": {"run_id": ZERO_RUN, "params": {}}}
    publish(vhost, "short", signed(body))
    svc.wait_for(lambda: svc.queue_stats(vhost, "short.XQ").get("messages", 0) == 1, 30,
                 what="the stray in short.XQ")
    event = svc.wait_for(lambda: query(service, "SELECT * FROM jobs.events WHERE kind = 'stray'"), 10,
                         what="the stray recorded")[0]
    assert event.detail == f"pipeline.first: run {ZERO_RUN} does not exist; dead-lettered"
    assert event.message_id == body["message_id"]
    assert scalar(service, "SELECT count(*) FROM test_attempts") == 0
    assert scalar(service, "SELECT count(*) FROM jobs.steps WHERE status = 'succeeded'") == 0


def test_a_repeated_step_message_of_a_run_that_moved_on_is_acked_as_a_duplicate_not_run(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run_id = service.trigger("pipeline")
    assert wait_run_ended(service, run_id).status == "succeeded"
    first = svc.wait_for(lambda: query(service, "SELECT * FROM jobs.steps WHERE actor = 'pipeline.first' "
                                                "AND status = 'succeeded'"), 10, what="the first step's row")[0]
    # Step 1 again, as a crash after its commit and before its ack would deliver it.
    body = {"queue_name": "short", "actor_name": "pipeline.second", "message_id": step_message_id(run_id, 1),
            "kwargs": {"run_id": run_id, "params": {}}}
    publish(vhost, "short", signed(body))
    # And a step the run has not reached (a run of another job, too: stray).
    publish(vhost, "short", signed({**body, "actor_name": "gate.after", "message_id": str(uuid.uuid4())}))
    svc.wait_for(lambda: query(service, "SELECT * FROM jobs.events WHERE kind = 'step-duplicate'"), 20,
                 what="the duplicate recorded")
    svc.wait_for(lambda: svc.queue_stats(vhost, "short.XQ").get("messages", 0) == 1, 20, what="the stray dead-lettered")
    duplicate = query(service, "SELECT * FROM jobs.events WHERE kind = 'step-duplicate'")[0]
    assert duplicate.detail == (f"pipeline.second: run {run_id} has ended (succeeded); acknowledged, not run")
    stray = query(service, "SELECT * FROM jobs.events WHERE kind = 'stray'")[0]
    assert stray.detail == f"gate.after: run {run_id} is a run of pipeline, not gate; dead-lettered"
    assert scalar(service, "SELECT count(*) FROM test_attempts WHERE step = 'second'") == 1
    row = query(service, "SELECT * FROM jobs.steps WHERE message_id = :m", m=step_message_id(run_id, 1))[0]
    assert row.status == "succeeded" and row.deliveries == 1
    assert first.status == "succeeded"
