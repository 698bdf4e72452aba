"""Recording: each message's queued and final events in the ledger's ``jobs.steps``.

Events go through the process's ledger writer (batched, ordered). The final
event is recorded in ``after_*`` hooks that run after Retries has decided, so
it says whether a failure will be retried or is final. ``after_nack`` records
only messages that never reached an actor (unknown actor names): every other
message was recorded by the time it is rejected.

Fan-out children are the exception, for they are most of the messages: a
child is not recorded queued (its barrier counts what was sent), and one that
succeeds at its first attempt and delivery is recorded by its arrival, with
its timings: the row its start wrote is deleted, and only its counters are
bumped. A child that fails, is retried, redelivered or stalls keeps its row.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware, TimeLimitExceeded
from sqlalchemy import Engine

from .ledger_writer import ENDED, QUEUED, LedgerWriter, StepEvent
from .lifecycle import (
    CHILD,
    Message,
    actor_options,
    attempt_of,
    base_queue,
    created_on,
    describe,
    is_bad_message,
    utcnow,
    valid_run_id,
)
from .logs import step_context

logger = logging.getLogger(__name__)

SKIPPED = "skipped (older than its max age, or skipped by a middleware)"


def step_event(broker: dramatiq.Broker, message: Message, status: str, rank: int, **fields: Any) -> StepEvent:
    """One event of the message's ``jobs.steps`` row, for the attempt it started as."""
    run_id = valid_run_id(message)
    return StepEvent(
        message_id=message.message_id,
        created_on=created_on(message),
        actor=message.actor_name,
        queue=base_queue(message.queue_name),
        status=status,
        rank=rank,
        attempt=attempt_of(message),
        deliveries=getattr(message, "_ledger_deliveries", 1) if rank else 0,
        run_id=str(run_id) if run_id else None,
        job=actor_options(broker, message).get("job_name"),
        **fields,
    )


def poison_error(poison: int) -> str:
    times = "once" if poison == 1 else f"{poison} times"
    return f"started at least {times} without finishing (it kills or hangs its worker); dead-lettered"


class Recorder(Middleware):
    """Records queued, finished, retried, failed, skipped and dead-lettered messages."""

    actor_options = {"job_name"}

    def __init__(self, engine_factory: Callable[[], Engine], *, flush_ms: int) -> None:
        self._engine_factory = engine_factory
        self.flush_ms = flush_ms
        self._writer: LedgerWriter | None = None
        self._writer_pid: int | None = None

    @property
    def writer(self) -> LedgerWriter:
        # A forked worker process needs its own writer thread and connections.
        if self._writer is None or self._writer_pid != os.getpid():
            self._writer = LedgerWriter(self._engine_factory(), flush_ms=self.flush_ms)
            self._writer_pid = os.getpid()
        return self._writer

    def record(self, event: StepEvent) -> None:
        self.writer.record(event)

    def flush(self, timeout_s: float = 30) -> bool:
        return self._writer.flush(timeout_s) if self._writer else True

    def close(self, timeout_s: float = 10) -> None:
        """Write what is still queued and stop the writer (for embedding and tests)."""
        if self._writer is not None:
            self._writer.stop(timeout_s)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.flush()

    def after_enqueue(self, broker: dramatiq.Broker, message: Message, delay: int | None) -> None:
        if actor_options(broker, message).get("step_role") == CHILD:
            return  # counted by its barrier: see the module's docstring
        self.record(step_event(broker, message, "queued", QUEUED, enqueued_at=utcnow()))

    def before_process_message(self, broker: dramatiq.Broker, message: Message) -> None:
        attempt = message.options.get("retries", 0) + 1
        message._ledger_started = time.monotonic()
        message._ledger_started_at = utcnow()
        message._ledger_attempt = attempt
        step_context.set(
            {
                "run_id": valid_run_id(message),
                "message_id": message.message_id,
                "actor": message.actor_name,
                "attempt": attempt,
                "options": message.options,
                "started_at": message._ledger_started_at,
            }
        )

    def after_process_message(
        self, broker: dramatiq.Broker, message: Message, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        started = getattr(message, "_ledger_started", None)
        duration_ms = (time.monotonic() - started) * 1000 if started else None
        times = {
            "started_at": getattr(message, "_ledger_started_at", None),
            "finished_at": utcnow(),
            "duration_ms": duration_ms,
        }
        if exception is None:
            event = step_event(broker, message, "succeeded", ENDED, **times, counted="succeeded")
            # Its arrival holds its timings and counts: a first attempt's first delivery leaves no row.
            event.drop_row = (
                event.attempt == 1
                and event.deliveries == 1
                and actor_options(broker, message).get("step_role") == CHILD
            )
        else:
            timed_out = isinstance(exception, TimeLimitExceeded)
            error = describe(exception)
            if message.failed:
                status = "timed-out" if timed_out else ("dead-lettered" if is_bad_message(exception) else "failed")
                event = step_event(
                    broker,
                    message,
                    status,
                    ENDED,
                    **times,
                    error=error,
                    timeouts=int(timed_out),
                    incident=status,
                    counted=status,
                )
            else:
                # Retries already bumped the retry count: this event belongs to the attempt that failed.
                event = step_event(
                    broker,
                    message,
                    "retrying",
                    ENDED,
                    **times,
                    error=error,
                    timeouts=int(timed_out),
                    incident="timed-out" if timed_out else "retrying",
                    counted="retried",
                )
        self.record(event)
        message._ledger_recorded = True
        step_context.set(None)

    def after_skip_message(self, broker: dramatiq.Broker, message: Message) -> None:
        if getattr(message, "_ledger_handled", False):
            step_context.set(None)
            return
        poison = getattr(message, "_ledger_poison", None)
        status, error = ("dead-lettered", poison_error(poison)) if poison is not None else ("skipped", SKIPPED)
        self.record(
            step_event(
                broker, message, status, ENDED, finished_at=utcnow(), error=error, incident=status, counted=status
            )
        )
        message._ledger_recorded = True
        logger.warning("message %s of %s %s: %s", message.message_id, message.actor_name, status, error)
        step_context.set(None)

    def after_nack(self, broker: dramatiq.Broker, message: Message) -> None:
        if getattr(message, "_ledger_recorded", False):
            return
        # Never reached an actor (unknown actor): not a step of ours, only recorded.
        exception = getattr(message, "_exception", None)
        reason = describe(exception) or "rejected"
        if isinstance(exception, dramatiq.errors.ActorNotFound):
            reason = f"no actor named {message.actor_name!r}"
        self.record(
            step_event(
                broker,
                message,
                "dead-lettered",
                ENDED,
                finished_at=utcnow(),
                error=reason,
                incident="dead-lettered",
                counted="dead-lettered",
            )
        )
        logger.error("message %s for %s dead-lettered: %s", message.message_id, message.actor_name, reason)
