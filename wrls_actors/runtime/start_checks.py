"""Start checks: a step or child message runs only for a running run at its step.

Each start is checked, and a first delivery recorded running, by the
process's start committer (starts.py) before any work. A stray (no such run,
or a run not at that step yet) is dead-lettered; a duplicate (its run moved on,
or ended) is acknowledged. Either is recorded as an event only, not in
``jobs.steps``: the message may carry the id of a real step, whose row must
keep its state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NoReturn

import dramatiq
from dramatiq.middleware import Middleware, SkipMessage
from sqlalchemy import Engine, text

from .database import bump
from .lifecycle import (
    CHILD,
    STEP,
    Message,
    actor_options,
    attempt_of,
    base_queue,
    created_on,
    run_started_at,
    valid_run_id,
)
from .starts import RUN, STRAY, Start, StartCommitter

logger = logging.getLogger(__name__)


class StartChecks(Middleware):
    """Refuses step messages that do not belong to their run's current step."""

    actor_options = {"step_role", "job_name", "step_index"}

    def __init__(self, engine_factory: Callable[[], Engine]) -> None:
        self._engine_factory = engine_factory
        self.starts = StartCommitter(engine_factory)

    def submit_all(self, broker: dramatiq.Broker, messages: list[Message]) -> None:
        """Hand the messages' starts to the committer now, together and without waiting (child_batches.py:
        a batch's starts in one statement); the hook below waits for each."""
        starts = []
        for message in messages:
            try:
                start = self._start_of(broker, message)
            except Exception:
                # Left to its hook, which meets the same error where Dramatiq handles a message's errors.
                logger.debug("start of message %s not handed over early", message.message_id, exc_info=True)
                continue
            if start is not None:
                message._ledger_start = start
                starts.append(start)
        self.starts.submit_all(starts)

    def before_process_message(self, broker: dramatiq.Broker, message: Message) -> None:
        start = getattr(message, "_ledger_start", None)
        if start is None:
            start = self._start_of(broker, message)
            if start is None:
                return
            self.starts.submit_all([start])
        self.starts.wait(start)
        if start.verdict != RUN:
            self._refuse(message, actor_options(broker, message), start)
        if start.record:
            message._ledger_running_recorded = True

    def _start_of(self, broker: dramatiq.Broker, message: Message) -> Start | None:
        """The message's start to check (and record, for a first delivery); None for a message that is not a step's."""
        options = actor_options(broker, message)
        run_id = valid_run_id(message)
        if options.get("step_role") not in (STEP, CHILD) or not run_id:
            return None
        # A redelivery's start is counted by the delivery limit, in its own transaction: only checked here.
        redelivered = getattr(message, "redelivered", False)
        return Start(
            message.message_id,
            created_on(message),
            run_id,
            message.actor_name,
            base_queue(message.queue_name),
            attempt_of(message),
            options["job_name"],
            options["step_index"],
            options.get("time_limit"),
            run_started_at=run_started_at(message.options),
            record=not redelivered,
        )

    def _refuse(self, message: Message, options: dict[str, Any], start: Start) -> NoReturn:
        """A stray is dead-lettered, a duplicate acknowledged; both recorded as events only (but for the
        children of a cancelled run, counted when it was cancelled)."""
        stray = start.verdict == STRAY
        kind = "stray" if stray else "step-duplicate"
        detail = f"{message.actor_name}: {start.reason}" + ("; dead-lettered" if stray else "; acknowledged, not run")
        if not stray and start.run_status == "cancelled":
            # Counted as cancelled when the run was cancelled: an event per child would flood the ledger.
            logger.info("message %s %s", message.message_id, detail)
            message._ledger_recorded = True
            message._ledger_handled = True
            raise SkipMessage(detail)
        with self._engine_factory().begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO jobs.events (kind, job, actor, queue, run_id, message_id, detail) "
                    "VALUES (:kind, :job, :actor, :queue, :run_id, :message_id, :detail)"
                ),
                {
                    "kind": kind,
                    "job": options.get("job_name"),
                    "actor": message.actor_name,
                    "queue": base_queue(message.queue_name),
                    "run_id": start.run_id,
                    "message_id": message.message_id,
                    "detail": detail,
                },
            )
            if stray:
                bump(connection, "messages_rejected_total", {})
        (logger.error if stray else logger.info)("message %s %s", message.message_id, detail)
        message._ledger_recorded = True
        message._ledger_handled = True
        if stray:
            message.fail()
        raise SkipMessage(detail)
