"""RabbitMQ as the service declares it: classic or quorum queues, on one node or several, checked at start.

Quorum queues (``<PREFIX>_RABBITMQ_QUEUE_TYPE=quorum``) are replicated over
a cluster's nodes. Each queue Dramatiq uses is declared quorum: the queue
itself with RabbitMQ's own delivery limit, ``x-delivery-limit``, set to the
ledger's ``max_deliveries``; its delay queue ``.DQ`` with none, because a
delayed message is held unacknowledged by a worker until its time, so every
worker restart (a deploy) returns it and counts against a limit it has not
earned; its dead-letter queue ``.XQ`` with none, as it is only read.

RabbitMQ counts the earlier deliveries of a quorum queue's message in its
``x-delivery-count`` header; the consumer here hands that count on, so the
ledger's delivery limit counts what the broker counts and refuses the
message on the delivery the broker would be the last to make. The broker's
limit is the backstop: it dead-letters only a message whose worker died
within the ledger's count of that last delivery.

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
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pika
import pika.exceptions
from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL, RabbitmqBroker, _RabbitmqConsumer
from dramatiq.common import dq_name, xq_name
from dramatiq.middleware import Middleware

from .errors import ConfigurationError

logger = logging.getLogger(__name__)

QUORUM = "quorum"
# RabbitMQ's refusal of a declaration unlike the queue's: which argument, what was asked, what the queue has.
INEQUIVALENT = re.compile(r"inequivalent arg '(?P<arg>[^']+)'.*: received (?P<asked>.+) but current is (?P<has>.+)$")
QUOTED = re.compile(r"'([^']*)'")


class Rabbitmq(RabbitmqBroker):
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
    def consumer_class(self) -> type[_RabbitmqConsumer]:
        return _Consumer

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
            arguments["x-delivery-limit"] = self.max_deliveries
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


class _Consumer(_RabbitmqConsumer):
    """Dramatiq's consumer, also handing on RabbitMQ's count of a message's earlier deliveries.

    ``earlier_deliveries`` on each message: the ``x-delivery-count`` header
    of quorum queues, None on classic queues (which keep no count).
    """

    def __init__(self, broker: Rabbitmq, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        self._headers: dict[str, Any] = {}
        self.iterator = self._noting_headers(self.iterator)

    def _noting_headers(self, deliveries: Iterable[tuple[Any, Any, Any]]) -> Iterator[tuple[Any, Any, Any]]:
        # One consumer thread reads this iterator: the headers noted are those of the delivery it returns next.
        for method, properties, body in deliveries:
            self._headers = (properties.headers if properties is not None else None) or {}
            yield method, properties, body

    def __next__(self) -> Any:
        message = super().__next__()  # type: ignore[no-untyped-call]
        if message is not None:
            count = self._headers.get("x-delivery-count")
            message.earlier_deliveries = count if isinstance(count, int) else None
        return message


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
        return (
            f"queue {name!r} has a delivery limit of {has} on RabbitMQ, but {prefix}_MAX_DELIVERIES is "
            f"{arguments.get('x-delivery-limit')}: a quorum queue's limit cannot change. Set "
            f"{prefix}_MAX_DELIVERIES={has}, or stop every worker, scheduler and API, let the queue empty, "
            "delete it and start again"
        )
    asked = _value(match["asked"])
    return (
        f"queue {name!r}: RabbitMQ has its {match['arg']} {'unset' if has is None else repr(has)}, this service "
        f"declares it {'unset' if asked is None else repr(asked)}; delete the queue (stopped, empty) to declare it again"
    )
