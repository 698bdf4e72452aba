"""Messages from other services, and bad ones: sent with plain pika, not Dramatiq."""

import json
import time
import uuid

import pika

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready


def publish(vhost: str, queue: str, body: bytes) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(svc.broker_url(vhost)))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2, content_type="application/json"))
    finally:
        connection.close()


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
    publish(vhost, "short", json.dumps({"queue_name": "short", "actor_name": "pipeline.first",
                                        "kwargs": {"run_id": "not-a-uuid"}}).encode())
    row = svc.wait_for(lambda: query(service, "SELECT * FROM jobs.steps WHERE actor = 'pipeline.first'"
                                              " AND status = 'dead-lettered'"), 20, what="the dead letter")[0]
    assert row.attempt == 1 and row.error == "BadMessage: run_id is not a UUID: 'not-a-uuid'"
