"""The message envelope (envelope.py): the checks as pure functions, then messages from other services and
bad ones sent with plain pika (not Dramatiq) to a real worker, which dead-letters them with a reason."""

import json
import time
import uuid

import pytest

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.messages import publish, signed
from wrls_actors.runtime import BadMessage
from wrls_actors.runtime.envelope import EnvelopeEncoder, start_arguments, step_arguments


def test_a_minimal_message_gets_defaults_and_a_stable_id():
    body = json.dumps({"queue_name": "control", "actor_name": "start-job", "kwargs": {"job": "x"}}).encode()
    first = EnvelopeEncoder().decode(body)
    second = EnvelopeEncoder().decode(body)
    assert first["args"] == [] and first["options"] == {} and first["kwargs"] == {"job": "x"}
    assert first["message_id"] == second["message_id"]


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"\xff\xfe", "body is not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"actor_name": "a"}', "lacks queue_name"),
        (b'{"queue_name": "q", "actor_name": "a", "kwargs": []}', "kwargs must be a JSON object"),
        (b'{"queue_name": "q", "actor_name": "a", "colour": 1}', "unknown fields: colour"),
        # Its UTC day is the message's ledger partition.
        (b'{"queue_name": "q", "actor_name": "a", "message_timestamp": "today"}', "message_timestamp must be"),
        (b'{"queue_name": "q", "actor_name": "a", "message_timestamp": 1e30}', "message_timestamp must be"),
        (b'{"queue_name": "q", "actor_name": "a", "message_timestamp": -1}', "message_timestamp must be"),
        # 9999-12-31: its week would have no end a retention pass could make.
        (
            b'{"queue_name": "q", "actor_name": "a", "message_timestamp": 253402214400000}',
            "message_timestamp is more than 24 hours ahead",
        ),
    ],
)
def test_bad_bodies_are_reported_with_the_reason(body, reason):
    reports = []
    with pytest.raises((BadMessage, ValueError)):  # ValueError: not UTF-8, not JSON
        EnvelopeEncoder(lambda data, why: reports.append((data, why))).decode(body)
    assert len(reports) == 1 and reason in reports[0][1] and reports[0][0] == body


def test_a_body_over_the_size_limit_is_refused_before_it_is_parsed():
    reports = []
    encoder = EnvelopeEncoder(lambda data, why: reports.append(why), max_bytes=100)
    body = b"{" + b" " * 200  # not JSON either: the size is what it is refused for
    with pytest.raises(BadMessage, match="body is 201 bytes, over the limit of 100"):
        encoder.decode(body)
    assert reports == ["body is 201 bytes, over the limit of 100"]
    ok = json.dumps({"queue_name": "q", "actor_name": "a"}).encode()
    assert len(ok) <= 100 and encoder.decode(ok)["actor_name"] == "a"


def test_step_arguments_are_checked():
    run_id, params, item = step_arguments({"run_id": "7b0f2f0e-6a56-4a8e-9a6b-3f3c2a1d9e10", "item": 3}, child=True)
    assert str(run_id) == "7b0f2f0e-6a56-4a8e-9a6b-3f3c2a1d9e10" and params == {} and item == 3
    with pytest.raises(BadMessage, match="missing argument run_id"):
        step_arguments({}, child=False)
    with pytest.raises(BadMessage, match="missing argument item"):
        step_arguments({"run_id": "7b0f2f0e-6a56-4a8e-9a6b-3f3c2a1d9e10"}, child=True)
    with pytest.raises(BadMessage, match="unexpected arguments: item"):
        step_arguments({"run_id": "7b0f2f0e-6a56-4a8e-9a6b-3f3c2a1d9e10", "item": 1}, child=False)


def test_start_arguments_are_checked():
    assert start_arguments({"job": "a", "params": {"k": 1}}, {"a": object()}) == ("a", {"k": 1}, False)
    with pytest.raises(BadMessage, match="unknown job 'b'"):
        start_arguments({"job": "b"}, {"a": object()})
    with pytest.raises(BadMessage, match="force must be true or false"):
        start_arguments({"job": "a", "force": "yes"}, {"a": object()})


def test_a_plain_json_message_published_with_pika_starts_a_job(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost, "control")
    body = {
        "queue_name": "control",
        "actor_name": "start-job",
        "kwargs": {"job": "pipeline", "params": {"x": 1}},
        "message_id": str(uuid.uuid4()),
    }
    publish(vhost, "control", json.dumps(body).encode())
    run = svc.wait_for(
        lambda: query(service, "SELECT * FROM jobs.runs WHERE trigger = 'message'"),
        30,
        what="a run started by the message",
    )[0]
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
    publish(
        vhost,
        "control",
        json.dumps({"queue_name": "control", "actor_name": "start-job", "kwargs": {"job": "no-such-job"}}).encode(),
    )
    publish(
        vhost,
        "control",
        json.dumps(
            {"queue_name": "control", "actor_name": "start-job", "kwargs": {"job": "pipeline", "colour": "blue"}}
        ).encode(),
    )
    svc.wait_for(
        lambda: svc.queue_stats(vhost, "control.XQ").get("messages", 0) == 4, 30, what="four messages in control.XQ"
    )
    rejected = query(service, "SELECT detail FROM jobs.events WHERE kind = 'rejected'")
    assert len(rejected) == 1 and "body is not JSON" in rejected[0].detail and "{not json" in rejected[0].detail
    svc.wait_for(
        lambda: scalar(service, "SELECT count(*) FROM jobs.steps WHERE status = 'dead-lettered'") == 3,
        10,
        what="three dead-lettered steps in the ledger",
    )
    errors = sorted(r.error for r in query(service, "SELECT error FROM jobs.steps WHERE status = 'dead-lettered'"))
    assert errors == [
        "BadMessage: unexpected arguments: colour",
        "BadMessage: unknown job 'no-such-job'",
        "no actor named 'no-such-actor'",
    ]
    # The worker survived all of it and still works.
    assert worker.alive()
    run_id = service.trigger("pipeline")
    assert wait_run_ended(service, run_id).status == "succeeded"


def test_a_step_message_with_wrong_arguments_is_dead_lettered_not_retried(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    publish(
        vhost,
        "short",
        signed(
            {
                "queue_name": "short",
                "actor_name": "pipeline.first",
                "message_id": str(uuid.uuid4()),
                "kwargs": {"run_id": "not-a-uuid"},
            }
        ),
    )
    row = svc.wait_for(
        lambda: query(service, "SELECT * FROM jobs.steps WHERE actor = 'pipeline.first' AND status = 'dead-lettered'"),
        20,
        what="the dead letter",
    )[0]
    assert row.attempt == 1 and row.error == "BadMessage: run_id is not a UUID: 'not-a-uuid'"


FRESH_APP = "tests.support.sample_app:fresh_service"


def rejected(service) -> list:
    return query(service, "SELECT detail FROM jobs.events WHERE kind = 'rejected' ORDER BY at")


def test_a_rejected_body_is_recorded_and_counted_once_by_the_real_worker(service, processes, vhost):
    # A factory app: the worker's main process and its forked worker process each build a Service.
    processes("worker", app=FRESH_APP)
    wait_worker_ready(vhost, "control")
    publish(vhost, "control", b"{not json")
    svc.wait_for(
        lambda: svc.queue_stats(vhost, "control.XQ").get("messages", 0) == 1, 30, what="the body in control.XQ"
    )
    time.sleep(1)  # a second record, if any, is written by the same worker right after the first
    assert len(rejected(service)) == 1
    assert scalar(service, "SELECT value FROM jobs.counters WHERE name = 'messages_rejected_total'") == 1


def test_a_body_over_the_size_limit_is_dead_lettered_unparsed_with_its_size(service, processes, vhost):
    processes("worker", extra_env={"WRLS_MAX_MESSAGE_BYTES": "1000"})
    wait_worker_ready(vhost, "control")
    body = json.dumps(
        {"queue_name": "control", "actor_name": "start-job", "kwargs": {"job": "pipeline", "params": {"x": "y" * 2000}}}
    ).encode()
    publish(vhost, "control", body)
    svc.wait_for(
        lambda: svc.queue_stats(vhost, "control.XQ").get("messages", 0) == 1, 30, what="the body in control.XQ"
    )
    detail = svc.wait_for(lambda: rejected(service), 10, what="the rejection")[0].detail
    assert f"body is {len(body)} bytes, over the limit of 1000" in detail
    assert len(detail) < 400  # an excerpt, not the body
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 0
