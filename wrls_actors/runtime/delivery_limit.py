"""The delivery limit: a message that keeps killing or hanging its worker is dead-lettered.

RabbitMQ redelivers a message whose worker died before acknowledging it, for
ever on classic queues. Each redelivery is counted against the attempt it
repeats; past ``max_deliveries`` starts the message is failed unrun (a poison
message). Only starts count: a message returned unstarted (prefetched by a
worker that stopped) was never at fault. On quorum queues RabbitMQ's own
limit sits above this one as a backstop (rabbitmq.py says why it cannot be
the same number).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dramatiq
from dramatiq.middleware import Middleware, SkipMessage
from sqlalchemy import Engine, text

from .database import bump
from .ledger_writer import RUNNING
from .lifecycle import Message, actor_options
from .recording import step_event
from .stalls import record_stall
from .workers import identity

logger = logging.getLogger(__name__)

COUNT_DELIVERY = text(
    "INSERT INTO jobs.steps AS s (message_id, created_on, run_id, actor, queue, attempt, deliveries, rank, status, "
    "  started_at, heartbeat_at, time_limit_ms, worker) "
    "VALUES (:message_id, :created_on, :run_id, :actor, :queue, :attempt, 1, 1, "
    "  'running', now(), now(), :limit, :worker) "
    "ON CONFLICT (message_id, created_on) DO UPDATE SET "
    "  deliveries = CASE WHEN s.attempt = EXCLUDED.attempt AND s.status IN ('running', 'stalled') "
    "                    THEN s.deliveries + 1 ELSE greatest(s.deliveries, 1) END, "
    "  stalls = s.stalls + CASE WHEN s.attempt = EXCLUDED.attempt AND s.status = 'running' THEN 1 ELSE 0 END, "
    "  attempt = EXCLUDED.attempt, rank = 1, status = 'running', started_at = now(), "
    "  heartbeat_at = now(), finished_at = NULL, time_limit_ms = EXCLUDED.time_limit_ms, worker = EXCLUDED.worker "
    "RETURNING deliveries"
)


class DeliveryLimit(Middleware):
    """Counts the starts of redelivered messages; fails one started more than ``max_deliveries`` times."""

    def __init__(self, engine_factory: Callable[[], Engine], *, max_deliveries: int) -> None:
        self._engine_factory = engine_factory
        self.max_deliveries = max_deliveries

    def before_process_message(self, broker: dramatiq.Broker, message: Message) -> None:
        if not getattr(message, "redelivered", False):
            message._ledger_deliveries = 1
            return
        deliveries = self._count(broker, message)
        message._ledger_deliveries = deliveries
        if deliveries > self.max_deliveries:
            message._ledger_poison = deliveries - 1
            message.fail()
            raise SkipMessage()

    def _count(self, broker: dramatiq.Broker, message: Message) -> int:
        """Synchronously count a start after a delivery that never finished.

        Written at once, not batched: a message that kills its worker within
        milliseconds must still be counted, or it would be redelivered forever.
        """
        event = step_event(broker, message, "running", RUNNING)
        with self._engine_factory().begin() as connection:
            old = connection.execute(
                text("SELECT status, attempt FROM jobs.steps WHERE message_id = :m AND created_on = :on FOR UPDATE"),
                {"m": event.message_id, "on": event.created_on},
            ).first()
            row = connection.execute(
                COUNT_DELIVERY,
                {
                    "message_id": event.message_id,
                    "created_on": event.created_on,
                    "run_id": event.run_id,
                    "actor": event.actor,
                    "queue": event.queue,
                    "attempt": event.attempt,
                    "limit": actor_options(broker, message).get("time_limit"),
                    "worker": identity(),
                },
            ).one()
            if old is not None and old.status == "running" and old.attempt == event.attempt:
                # The sweeper had not seen it yet: the unfinished delivery is a stall.
                record_stall(
                    connection,
                    event.job,
                    event.actor,
                    event.queue,
                    event.run_id,
                    event.message_id,
                    "redelivered while still marked running (its worker died)",
                )
            if row.deliveries > 1:
                connection.execute(
                    text(
                        "INSERT INTO jobs.events (kind, job, actor, queue, run_id, message_id, detail) "
                        "VALUES ('redelivered', :job, :actor, :queue, :run_id, :message_id, :detail)"
                    ),
                    {
                        "job": event.job,
                        "actor": event.actor,
                        "queue": event.queue,
                        "run_id": event.run_id,
                        "message_id": event.message_id,
                        "detail": f"started {row.deliveries} times without finishing",
                    },
                )
                bump(connection, "steps_redelivered_total", {"actor": event.actor, "queue": event.queue})
        logger.warning(
            "message %s of %s redelivered: recorded start %d of this attempt",
            message.message_id,
            message.actor_name,
            row.deliveries,
        )
        deliveries: int = row.deliveries
        return deliveries
