"""RabbitMQ as the service declares it: classic or quorum queues, on one node or several, checked at start.

Quorum queues (``<PREFIX>_RABBITMQ_QUEUE_TYPE=quorum``) are replicated over
a cluster's nodes. Each queue Dramatiq uses is declared quorum: the queue
itself with RabbitMQ's own delivery limit, ``x-delivery-limit``, derived from
the ledger's ``max_deliveries``; its delay queue ``.DQ`` with none, because a
delayed message is held unacknowledged by a worker until its time, so every
worker restart (a deploy) returns it and counts against a limit it has not
earned; its dead-letter queue ``.XQ`` with none, as it is only read.

The ledger's limit is the one that acts: it counts the starts of a message
(delivery_limit.py) and refuses it on start ``max_deliveries + 1``, recording
why. RabbitMQ before 4.3 counts every return in ``x-delivery-count``, also of
a message a worker had prefetched but never started when it stopped or died
(measured on 3.10), so its count cannot stand for starts: a child waiting
behind a poison sibling would be refused for its sibling's crashes. The
broker's limit is therefore ``BACKSTOP`` deliveries above the ledger's: it
dead-letters only a message that went on killing its worker past the
ledger's refusal (the ledger unreachable, say), or one returned unstarted
that many times.

A queue's type, and a quorum queue's delivery limit, are fixed when it is
first declared: declaring it otherwise is refused (406, and the channel
closed). ``check_queues`` declares every queue at start on throw-away
channels, so a service set up differently from its queues stops at once,
saying which queue, what it is and what is set, instead of crashing its
consumers again and again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

import pika
import pika.exceptions
from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL, RabbitmqBroker
from dramatiq.common import dq_name, xq_name
from dramatiq.middleware import Middleware

from .acks import BurstAcks
from .errors import ConfigurationError
from .hook_calls import OnlyImplemented

logger = logging.getLogger(__name__)

QUORUM = "quorum"
BATCH_PREFETCH = 4
# Deliveries RabbitMQ allows beyond the ledger's limit (see the module's doc).
BACKSTOP = 10
# RabbitMQ's refusal of a declaration unlike the queue's: which argument, what was asked, what the queue has.
INEQUIVALENT = re.compile(r"inequivalent arg '(?P<arg>[^']+)'.*: received (?P<asked>.+) but current is (?P<has>.+)$")
QUOTED = re.compile(r"'([^']*)'")


class Rabbitmq(OnlyImplemented, RabbitmqBroker):
    """Dramatiq's RabbitMQ broker on several nodes, with classic or quorum queues.

    Confirmed delivery always. Pika tries the nodes in the order given, at
    every connection (Dramatiq opens a new one whenever one dies).
    """

    def __init__(
        self, urls: Sequence[str], *, queue_type: str, max_deliveries: int, middleware: list[Middleware]
    ) -> None:
        super().__init__(url=list(urls), confirm_delivery=True, middleware=middleware)
        self.queue_type = queue_type
        self.max_deliveries = max_deliveries

    @property
    def consumer_class(self) -> type[BurstAcks]:
        return BurstAcks

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Any:
        # A batch (child_batches.py) takes only what its process holds: a queue of nothing but batchable
        # children is prefetched deeper than Dramatiq's two messages a thread.
        actors = [actor for actor in self.actors.values() if actor.queue_name == queue_name]
        if actors and all(actor.options.get("batchable") for actor in actors):
            prefetch *= BATCH_PREFETCH
        return super().consume(queue_name, prefetch, timeout)

    def declarations(self, queue_name: str) -> list[tuple[str, dict[str, Any]]]:
        """Every queue behind ``queue_name`` (itself, ``.DQ``, ``.XQ``) and the arguments it is declared with."""
        return [
            (queue_name, self._build_queue_arguments(queue_name)),
            (dq_name(queue_name), self._delay_queue_arguments(queue_name)),
            (xq_name(queue_name), self._dead_letter_queue_arguments()),
        ]

    def _build_queue_arguments(self, queue_name: str) -> dict[str, Any]:
        arguments: dict[str, Any] = super()._build_queue_arguments(queue_name)  # type: ignore[no-untyped-call]
        if self.queue_type == QUORUM:
            arguments["x-queue-type"] = QUORUM
            arguments["x-delivery-limit"] = self.max_deliveries + BACKSTOP
        return arguments

    def _delay_queue_arguments(self, queue_name: str) -> dict[str, Any]:
        arguments: dict[str, Any] = super()._build_queue_arguments(queue_name)  # type: ignore[no-untyped-call]
        if self.queue_type == QUORUM:
            arguments["x-queue-type"] = QUORUM
        return arguments

    def _dead_letter_queue_arguments(self) -> dict[str, Any]:
        # A static TTL, as Dramatiq's: RabbitMQ expires messages from the head only.
        arguments: dict[str, Any] = {"x-message-ttl": DEAD_MESSAGE_TTL}
        if self.queue_type == QUORUM:
            arguments["x-queue-type"] = QUORUM
        return arguments

    def _declare_queue(self, queue_name: str) -> Any:
        return self._declare(queue_name, self._build_queue_arguments(queue_name))

    def _declare_dq_queue(self, queue_name: str) -> Any:
        return self._declare(dq_name(queue_name), self._delay_queue_arguments(queue_name))

    def _declare_xq_queue(self, queue_name: str) -> Any:
        return self._declare(xq_name(queue_name), self._dead_letter_queue_arguments())

    def _declare(self, name: str, arguments: dict[str, Any]) -> Any:
        return self.channel.queue_declare(queue=name, durable=True, arguments=arguments)


def check_queues(broker: Any, queues: Iterable[str], prefix: str) -> None:
    """Declare every queue of ``queues`` (with its ``.DQ`` and ``.XQ``) as configured; refuse to start on any unlike.

    Each declaration on its own channel: a refused one closes only that
    channel. A broker that cannot be reached is not checked (a worker waits
    for it); the first declaration after it comes back fails as before.
    """
    if not isinstance(broker, Rabbitmq):
        return
    try:
        connection = pika.BlockingConnection(broker.parameters)
    except pika.exceptions.AMQPError as e:
        logger.warning("could not check the queues' types: RabbitMQ unreachable (%s)", e.__class__.__name__)
        return
    problems = []
    try:
        for queue in queues:
            for name, arguments in broker.declarations(queue):
                channel = connection.channel()
                try:
                    channel.queue_declare(queue=name, durable=True, arguments=arguments)
                except pika.exceptions.ChannelClosedByBroker as e:
                    problems.append(_explain(broker, name, arguments, e, prefix))
                else:
                    channel.close()
    finally:
        if connection.is_open:
            connection.close()
    if problems:
        raise ConfigurationError(
            "refusing to start: RabbitMQ has queues unlike this service's settings:\n  " + "\n  ".join(problems)
        )


def _value(text: str) -> str | None:
    """RabbitMQ's way of showing an argument's value: ``none``, ``'5'``, ``the value 'quorum' of type 'longstr'``."""
    found = QUOTED.search(text)
    return found.group(1) if found else None


def _explain(broker: Rabbitmq, name: str, arguments: dict[str, Any], error: Any, prefix: str) -> str:
    text = str(error.reply_text)
    match = INEQUIVALENT.search(text) if error.reply_code == 406 else None
    if match is None:
        return f"queue {name!r}: RabbitMQ refused its declaration: {error.reply_code} {text}"
    has = _value(match["has"])
    if match["arg"] == "x-queue-type":
        queue_type = has or "classic"  # a queue declared without the argument is classic
        return (
            f"queue {name!r} is a {queue_type} queue on RabbitMQ, but {prefix}_RABBITMQ_QUEUE_TYPE is "
            f"{broker.queue_type}: a queue's type cannot change. Set {prefix}_RABBITMQ_QUEUE_TYPE={queue_type}, "
            "or stop every worker, scheduler and API, let the queues empty, delete them (with their .DQ and "
            "their .XQ) and start again (docs/runtime.md, 'Queue types')"
        )
    if match["arg"] == "x-delivery-limit":
        # The broker's limit is the setting plus BACKSTOP: the setting that made the queue is named.
        limit = int(has) if has is not None and has.isdigit() else None
        made_by = f"{prefix}_MAX_DELIVERIES={limit - BACKSTOP}" if limit is not None and limit > BACKSTOP else None
        return (
            f"queue {name!r} has a delivery limit of {has} on RabbitMQ, but this service's is "
            f"{arguments.get('x-delivery-limit')} ({prefix}_MAX_DELIVERIES + {BACKSTOP}): a quorum queue's "
            f"limit cannot change. "
            + (f"Set {made_by}, or stop" if made_by else "Stop")
            + " every worker, scheduler and API, let the queue empty, delete it and start again"
        )
    asked = _value(match["asked"])
    return (
        f"queue {name!r}: RabbitMQ has its {match['arg']} {'unset' if has is None else repr(has)}, this service "
        f"declares it {'unset' if asked is None else repr(asked)}; delete the queue (stopped, empty) to declare it again"
    )
