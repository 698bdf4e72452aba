"""Acknowledgements handed to the consumer's connection in bursts, and written to its socket together.

Dramatiq's RabbitMQ consumer has each worker thread hand its message's ack
(or reject) to the consumer's connection as a callback of its own
(``add_callback_threadsafe``, a write to the connection's wake-up pipe), and
pika's ``basic_ack`` writes each one to the socket before returning (a poll
and a send). At a few thousand messages a second that was a tenth of a
worker process's CPU (py-spy, GIL held): the acks, not the work.

Here worker threads put their settlements on one list; the first to find no
callback scheduled schedules one, and that callback, on the consumer's
thread, sends everything on the list by then, in the order given, with one
write for all. Nothing is acknowledged earlier than before: a message is
still settled only after its worker thread has finished with it.
"""

from __future__ import annotations

import threading
from typing import Any

import pika.exceptions
from dramatiq.brokers.rabbitmq import _RabbitmqConsumer
from dramatiq.errors import ConnectionClosed

ACK, REJECT, RETURN = "ack", "reject", "return"


class BurstAcks(_RabbitmqConsumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]  # Dramatiq's consumer is untyped
        self._lock = threading.Lock()
        self._settlements: list[tuple[int, str]] = []  # (delivery tag, ACK, REJECT or RETURN), in the order given
        self._scheduled = False

    def ack(self, message: Any) -> None:
        self._settle(message, ACK)

    def nack(self, message: Any) -> None:
        self._settle(message, REJECT)

    def release(self, message: Any) -> None:
        """Return a message to its queue unacknowledged, to be delivered again (child_batches.py)."""
        self._settle(message, RETURN)

    def _settle(self, message: Any, how: str) -> None:
        try:
            self.known_tags.remove(message._tag)
        except KeyError:
            # Delivered on a connection since closed: RabbitMQ has returned it to the queue already.
            self.logger.warning("Failed to settle message %s: not in known tags.", message.message_id)
            return
        with self._lock:
            self._settlements.append((message._tag, how))
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self.connection.add_callback_threadsafe(self._send)
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as e:
            with self._lock:
                self._scheduled = False
            raise ConnectionClosed(e) from None  # type: ignore[no-untyped-call]

    def _send(self) -> None:
        """On the consumer's thread: every settlement handed over so far, one socket write for all."""
        with self._lock:
            settlements, self._settlements = self._settlements, []
            self._scheduled = False
        if not settlements:
            return
        # pika's channel under the blocking one only queues a frame; the blocking channel's
        # own call, for the last, writes everything queued.
        queued = self.channel._impl
        *first, (last_tag, last_how) = settlements
        for tag, how in first:
            _send(queued, tag, how)
        _send(self.channel, last_tag, last_how)


def _send(channel: Any, tag: int, how: str) -> None:
    if how == ACK:
        channel.basic_ack(tag)
    else:
        channel.basic_nack(tag, requeue=how == RETURN)
