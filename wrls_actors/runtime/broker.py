"""The broker and its one ordered middleware stack.

Order matters: Dramatiq runs ``before_*`` hooks top to bottom and ``after_*``
hooks bottom to top, and a middleware that raises ``SkipMessage`` in
``before_process_message`` stops the ones below it. ``middleware_stack`` says
why each middleware is where it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dramatiq
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Middleware, Pipelines, Retries, ShutdownNotifications, TimeLimit

from .child_batches import ChildBatches
from .envelope import EnvelopeEncoder
from .hook_calls import OnlyImplemented
from .ledger import Ledger
from .rabbitmq import Rabbitmq
from .signing import Signatures


class InProcess(OnlyImplemented, StubBroker):
    """Dramatiq's in-process broker, calling only the hooks a middleware implements (hook_calls.py)."""


class ScheduleOptions(Middleware):
    """Declares periodiq's ``periodic`` actor option without its skipping.

    periodiq's own middleware acks, unrun, any tick older than 30 seconds,
    including every retry of a scheduled step: our tick actor records late
    ticks instead, so only the option is kept.
    """

    actor_options = {"periodic"}


def middleware_stack(ledger: Ledger, signatures: Signatures) -> list[Middleware]:
    return [
        # First: a forged message must not reach the start checks or any actor.
        signatures,
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Pipelines(),
        # The ledger's five sit above Retries, so their after_* hooks see whether a failure is final.
        # Above the recorder: a run reacts to a final failure once the failure is recorded.
        ledger.run_reactions,
        # First of the five to see a message: it stamps the start and the log context the others use.
        ledger.recorder,
        # Before the delivery limit: a stray or duplicate is refused before its start is counted in
        # jobs.steps, where its id may be that of a real step.
        ledger.start_checks,
        ledger.delivery_limit,
        # Last: only a message that passed every check is watched, and it is no longer watched by the
        # time its end is recorded.
        ledger.heartbeats,
        Retries(max_retries=3, min_backoff=5_000, max_backoff=300_000),
        ScheduleOptions(),
        # Hooks no message: it gives a RabbitMQ worker its batching threads.
        ChildBatches(ledger.start_checks, ledger.heartbeats, signatures, ledger.control_factory),
    ]


def publish_many(broker: dramatiq.Broker, messages: list[dramatiq.Message[Any]], batch_size: int = 1000) -> None:
    """Publish many messages in AMQP transactions of ``batch_size``.

    Dramatiq's confirmed enqueue waits for the broker after every message,
    which caps a large fan-out at a few thousand messages a second. Here each
    batch is one transaction: its commit returns once RabbitMQ has accepted
    every message of it, or raises and the caller publishes again (message
    ids are stable, so a repeat is recognised). Middleware sees each message
    as if enqueued one by one.
    """
    if not isinstance(broker, RabbitmqBroker):
        for message in messages:
            broker.enqueue(message)
        return
    for queue_name in sorted({m.queue_name for m in messages}):
        # Declared by Dramatiq itself, with its dead-letter arguments.
        broker.declare_queue(queue_name, ensure=True)
    connection = pika.BlockingConnection(broker.parameters)
    try:
        channel = connection.channel()
        channel.tx_select()
        for start in range(0, len(messages), batch_size):
            batch = messages[start : start + batch_size]
            for message in batch:
                broker.emit_before("enqueue", message, None)
                channel.basic_publish(
                    exchange="",
                    routing_key=message.queue_name,
                    body=message.encode(),
                    properties=pika.BasicProperties(delivery_mode=2, priority=message.options.get("broker_priority")),
                )
            channel.tx_commit()
            for message in batch:
                broker.emit_after("enqueue", message, None)
    finally:
        if connection.is_open:
            connection.close()


def build_broker(
    urls: Sequence[str],
    ledger: Ledger,
    signatures: Signatures,
    encoder: EnvelopeEncoder,
    *,
    queue_type: str = "classic",
) -> dramatiq.Broker:
    """RabbitMQ with confirmed delivery on the nodes of ``urls``, or the in-process broker when there are none.

    Dramatiq's encoder is per process: the caller's replaces any set before.
    """
    dramatiq.set_encoder(encoder)
    middleware = middleware_stack(ledger, signatures)
    if not urls:
        broker: dramatiq.Broker = InProcess(middleware=middleware)
    else:
        broker = Rabbitmq(
            urls, queue_type=queue_type, max_deliveries=ledger.delivery_limit.max_deliveries, middleware=middleware
        )
    dramatiq.set_broker(broker)
    return broker
