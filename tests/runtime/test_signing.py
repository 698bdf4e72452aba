"""Signed messages (signing.py): step and tick messages without the service's signature are never run."""

import json
import time
import uuid

from dramatiq import Message

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.messages import TEST_MESSAGE_KEY, publish, signed
from wrls_actors.runtime.lifecycle import RUN_STARTED_AT
from wrls_actors.runtime.signing import Signer


def rejected(service) -> list:
    return query(service, "SELECT detail FROM jobs.events WHERE kind = 'rejected' ORDER BY at")


def test_unsigned_and_badly_signed_step_and_tick_messages_are_dead_lettered_not_run(service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run_id = service.trigger("long-step", {"seconds": 0})
    wait_run_ended(service, run_id)
    # A real step of a real run, as anyone with access to the vhost could publish it.
    body = {
        "queue_name": "long",
        "actor_name": "long-step.work",
        "message_id": str(uuid.uuid4()),
        "kwargs": {"run_id": run_id, "params": {}},
    }
    publish(vhost, "long", json.dumps(body).encode())
    publish(vhost, "long", signed({**body, "message_id": str(uuid.uuid4())}, key="another-key-" + "x" * 32))
    publish(
        vhost,
        "schedule",
        json.dumps(
            {
                "queue_name": "schedule",
                "actor_name": "tick.pipeline",
                "options": {"scheduled_at": "2026-01-01T00:00:00+00:00"},
            }
        ).encode(),
    )
    # Through a delay queue, which the worker itself moves on to the queue when due.
    publish(
        vhost,
        "long.DQ",
        json.dumps(
            {
                **body,
                "queue_name": "long.DQ",
                "message_id": str(uuid.uuid4()),
                "options": {"eta": int(time.time() * 1000)},
            }
        ).encode(),
    )
    svc.wait_for(
        lambda: (
            svc.queue_stats(vhost, "long.XQ").get("messages", 0) == 3
            and svc.queue_stats(vhost, "schedule.XQ").get("messages", 0) == 1
        ),
        30,
        what="four messages dead-lettered",
    )
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


def test_a_run_start_changed_or_dropped_after_signing_breaks_the_signature():
    signer = Signer(TEST_MESSAGE_KEY)
    options = {RUN_STARTED_AT: 1_765_000_000_123_456}
    message = Message("long", "fan.each", (), {"run_id": str(uuid.uuid4())}, options, message_id=str(uuid.uuid4()))
    message.options["signature"] = signer.sign(message)
    assert signer.problem(message) is None
    # Another run's start would make the message find that run's rows: it must not pass.
    forged = message._replace(options={**message.options, RUN_STARTED_AT: 1_765_000_000_123_457})
    assert signer.problem(forged) == "bad signature"
    dropped = message._replace(options={k: v for k, v in message.options.items() if k != RUN_STARTED_AT})
    assert signer.problem(dropped) == "bad signature"
    # A message signed before the option existed still verifies.
    older = Message("long", "fan.each", (), message.kwargs, {}, message_id=message.message_id)
    older.options["signature"] = signer.sign(older)
    assert signer.problem(older) is None
