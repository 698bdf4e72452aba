"""The ledger middleware: every message lifecycle event lands in ``jobs``.

It sits just before Dramatiq's Retries middleware, so its ``after_*`` hooks
run after Retries has decided: it sees whether a failure will be retried or is
final. The run's reaction to a step or child that failed for good (the run
fails, or the child is counted at its barrier) is taken in
``after_process_message`` / ``after_skip_message``, before Dramatiq rejects
the message, so a worker dying in between leads to a redelivery, not to a run
that waits for ever. ``after_nack`` only records messages that never reached
an actor (unknown actor names).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware, SkipMessage, TimeLimitExceeded
from sqlalchemy import Engine, text

from .database import bump
from .ledger_writer import ENDED, QUEUED, RUNNING, LedgerWriter, StepEvent
from .logs import step_context
from .stalls import heartbeat, record_stall, sweep
from .starts import RUN, STRAY, Start, StartCommitter

logger = logging.getLogger(__name__)

STEP, CHILD = "step", "child"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def base_queue(name: str) -> str:
    return name[:-3] if name.endswith((".DQ", ".XQ")) else name


def describe(exception: BaseException | None) -> str | None:
    if exception is None:
        return None
    text_ = str(exception)
    return f"{type(exception).__name__}: {text_}" if text_ else type(exception).__name__


class Ledger(Middleware):
    """Records queued, running, finished, retried, failed and dead-lettered messages."""

    actor_options = {"step_role", "job_name", "step_index"}

    def __init__(self, engine_factory, *, flush_ms: int, max_deliveries: int, heartbeat_s: float,
                 stall_after_s: float, stall_grace_s: float, sweep_s: float, control_factory) -> None:
        self._engine_factory = engine_factory
        self._control_factory = control_factory
        self.flush_ms = flush_ms
        self.max_deliveries = max_deliveries
        self.heartbeat_s = heartbeat_s
        self.stall_after_s = stall_after_s
        self.stall_grace_s = stall_grace_s
        self.sweep_s = sweep_s
        self._writer: LedgerWriter | None = None
        self._writer_pid: int | None = None
        # message id -> (broker, message, wall-clock start); the heartbeat thread
        # records as running those still in here at its next beat.
        self.in_flight: dict[str, tuple] = {}
        self._recorded_running: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self.starts = StartCommitter(engine_factory)

    # -- plumbing -------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        return self._engine_factory()

    @property
    def writer(self) -> LedgerWriter:
        # A forked worker process needs its own writer thread and connections.
        if self._writer is None or self._writer_pid != os.getpid():
            self._writer = LedgerWriter(self.engine, flush_ms=self.flush_ms)
            self._writer_pid = os.getpid()
        return self._writer

    def _options(self, broker: dramatiq.Broker, message) -> dict[str, Any]:
        try:
            return broker.get_actor(message.actor_name).options
        except dramatiq.errors.ActorNotFound:
            return {}

    def _event(self, broker, message, status: str, rank: int, **fields: Any) -> StepEvent:
        options = self._options(broker, message)
        run_id = valid_run_id(message)
        return StepEvent(
            message_id=message.message_id,
            actor=message.actor_name,
            queue=base_queue(message.queue_name),
            status=status,
            rank=rank,
            attempt=getattr(message, "_ledger_attempt", message.options.get("retries", 0) + 1),
            deliveries=getattr(message, "_ledger_deliveries", 1) if rank else 0,
            run_id=str(run_id) if run_id else None,
            job=options.get("job_name"),
            **fields,
        )

    # -- lifecycle ------------------------------------------------------------

    def after_process_boot(self, broker) -> None:
        self._start_monitor()

    def after_worker_boot(self, broker, worker) -> None:
        self._start_monitor()

    def before_worker_shutdown(self, broker, worker) -> None:
        self._stop.set()

    def after_worker_shutdown(self, broker, worker) -> None:
        self.flush()

    def close(self, timeout_s: float = 10) -> None:
        """Stop the heartbeat and write what is still queued (for embedding and tests)."""
        self._stop.set()
        if self._writer is not None:
            self._writer.stop(timeout_s)

    def flush(self, timeout_s: float = 30) -> bool:
        return self._writer.flush(timeout_s) if self._writer else True

    def _start_monitor(self) -> None:
        if self._monitor is None or not self._monitor.is_alive():
            self._stop.clear()
            self._monitor = threading.Thread(target=self._watch, name="ledger-heartbeat", daemon=True)
            self._monitor.start()

    def _watch(self) -> None:
        last_sweep = 0.0
        while not self._stop.wait(self.heartbeat_s):
            try:
                self._beat()
                if time.monotonic() - last_sweep >= self.sweep_s:
                    last_sweep = time.monotonic()
                    sweep(self.engine, self.stall_after_s, self.stall_grace_s)
                    self._control_factory().fire_forgotten_barriers(self.stall_after_s)
            except Exception:
                logger.exception("heartbeat or stall sweep failed")

    def _beat(self) -> None:
        """Record steps running since the last beat; heartbeat those recorded before.

        Most steps end within a beat and never need a 'running' row: their
        final event carries their start. Only longer ones, which a dead worker
        could leave behind, are written as running.
        """
        with self._lock:
            running = dict(self.in_flight)
            self._recorded_running &= set(running)
            recorded = [m for m in running if m in self._recorded_running]
            new = [m for m in running if m not in self._recorded_running]
            self._recorded_running.update(new)
        for message_id in new:
            broker, message, started_at = running[message_id]
            self.writer.record(self._event(broker, message, "running", RUNNING, started_at=started_at,
                                           time_limit_ms=self._options(broker, message).get("time_limit")))
        if recorded:
            heartbeat(self.engine, recorded)

    # -- enqueue --------------------------------------------------------------

    def after_enqueue(self, broker, message, delay) -> None:
        self.writer.record(self._event(broker, message, "queued", QUEUED, enqueued_at=utcnow()))

    # -- processing -----------------------------------------------------------

    def before_process_message(self, broker, message) -> None:
        options = self._options(broker, message)
        run_id = valid_run_id(message)
        step_context.set({"run_id": run_id, "message_id": message.message_id, "actor": message.actor_name,
                          "attempt": message.options.get("retries", 0) + 1, "options": message.options})
        message._ledger_started = time.monotonic()
        message._ledger_started_at = utcnow()
        message._ledger_attempt = message.options.get("retries", 0) + 1
        time_limit = options.get("time_limit")
        redelivered = getattr(message, "redelivered", False)
        role = options.get("step_role")
        if role in (STEP, CHILD) and run_id:
            start = self.starts.start(Start(
                message.message_id, run_id, message.actor_name, base_queue(message.queue_name),
                message._ledger_attempt, options["job_name"], options["step_index"], time_limit,
                record=not redelivered))
            if start.verdict != RUN:
                self._refuse(message, options, start)
            if not redelivered:
                # Recorded running already: the heartbeat only beats for it.
                with self._lock:
                    self._recorded_running.add(message.message_id)
        if redelivered:
            deliveries = self._record_redelivery(broker, message, time_limit)
            message._ledger_deliveries = deliveries
            if deliveries > self.max_deliveries:
                message._ledger_poison = deliveries - 1
                message.fail()
                raise SkipMessage()
        else:
            message._ledger_deliveries = 1
        with self._lock:
            self.in_flight[message.message_id] = (broker, message, message._ledger_started_at)

    def _refuse(self, message, options: dict, start: Start) -> None:
        """A step message for no running run at its step: a stray is dead-lettered, a duplicate acked.

        Recorded as events only: the message may carry the id of a real step,
        whose row must keep its state.
        """
        stray = start.verdict == STRAY
        kind = "stray" if stray else "step-duplicate"
        detail = f"{message.actor_name}: {start.reason}" + ("; dead-lettered" if stray else "; acknowledged, not run")
        with self.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO jobs.events (kind, job, actor, queue, run_id, message_id, detail) "
                     "VALUES (:kind, :job, :actor, :queue, :run_id, :message_id, :detail)"),
                {"kind": kind, "job": options.get("job_name"), "actor": message.actor_name,
                 "queue": base_queue(message.queue_name), "run_id": start.run_id, "message_id": message.message_id,
                 "detail": detail},
            )
            if stray:
                bump(connection, "messages_rejected_total", {})
        (logger.error if stray else logger.info)("message %s %s", message.message_id, detail)
        message._ledger_recorded = True
        message._ledger_handled = True
        if stray:
            message.fail()
        raise SkipMessage(detail)

    def _record_redelivery(self, broker, message, time_limit) -> int:
        """Synchronously count a start after a delivery that never finished.

        Written at once, not batched: a message that kills its worker within
        milliseconds must still be counted, or it would be redelivered forever.
        """
        event = self._event(broker, message, "running", RUNNING)
        with self.engine.begin() as connection:
            old = connection.execute(
                text("SELECT status, attempt FROM jobs.steps WHERE message_id = :m FOR UPDATE"),
                {"m": event.message_id},
            ).first()
            row = connection.execute(
                text(
                    "INSERT INTO jobs.steps AS s (message_id, run_id, actor, queue, attempt, deliveries, rank, status, "
                    "  started_at, heartbeat_at, time_limit_ms) "
                    "VALUES (:message_id, :run_id, :actor, :queue, :attempt, 1, 1, 'running', now(), now(), :limit) "
                    "ON CONFLICT (message_id) DO UPDATE SET "
                    "  deliveries = CASE WHEN s.attempt = EXCLUDED.attempt AND s.status IN ('running', 'stalled') "
                    "                    THEN s.deliveries + 1 ELSE greatest(s.deliveries, 1) END, "
                    "  stalls = s.stalls + CASE WHEN s.attempt = EXCLUDED.attempt AND s.status = 'running' THEN 1 ELSE 0 END, "
                    "  attempt = EXCLUDED.attempt, rank = 1, status = 'running', started_at = now(), "
                    "  heartbeat_at = now(), finished_at = NULL, time_limit_ms = EXCLUDED.time_limit_ms "
                    "RETURNING deliveries"
                ),
                {"message_id": event.message_id, "run_id": event.run_id, "actor": event.actor, "queue": event.queue,
                 "attempt": event.attempt, "limit": time_limit},
            ).one()
            labels = {"actor": event.actor, "queue": event.queue}
            if old is not None and old.status == "running" and old.attempt == event.attempt:
                # The sweeper had not seen it yet: the unfinished delivery is a stall.
                record_stall(connection, event.job, event.actor, event.queue, event.run_id, event.message_id,
                             "redelivered while still marked running (its worker died)")
            if row.deliveries > 1:
                connection.execute(
                    text("INSERT INTO jobs.events (kind, job, actor, queue, run_id, message_id, detail) "
                         "VALUES ('redelivered', :job, :actor, :queue, :run_id, :message_id, :detail)"),
                    {"job": event.job, "actor": event.actor, "queue": event.queue, "run_id": event.run_id,
                     "message_id": event.message_id,
                     "detail": f"started {row.deliveries} times without finishing"},
                )
                bump(connection, "steps_redelivered_total", labels)
        logger.warning("message %s of %s redelivered: recorded start %d of this attempt", message.message_id,
                       message.actor_name, row.deliveries)
        return row.deliveries

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        with self._lock:
            self.in_flight.pop(message.message_id, None)
        started = getattr(message, "_ledger_started", None)
        duration_ms = (time.monotonic() - started) * 1000 if started else None
        now = utcnow()
        started_at = getattr(message, "_ledger_started_at", None)
        if exception is None:
            event = self._event(broker, message, "succeeded", ENDED, started_at=started_at, finished_at=now,
                                duration_ms=duration_ms, counted="succeeded")
        else:
            timed_out = isinstance(exception, TimeLimitExceeded)
            error = describe(exception)
            if message.failed:
                status = "timed-out" if timed_out else ("dead-lettered" if _is_bad_message(exception) else "failed")
                event = self._event(broker, message, status, ENDED, started_at=started_at, finished_at=now,
                                    duration_ms=duration_ms, error=error, timeouts=int(timed_out), incident=status,
                                    counted=status)
            else:
                # Retries already bumped the retry count: this event belongs to the attempt that failed.
                event = self._event(broker, message, "retrying", ENDED, started_at=started_at, finished_at=now,
                                    duration_ms=duration_ms, error=error, timeouts=int(timed_out),
                                    incident="timed-out" if timed_out else "retrying", counted="retried")
        self.writer.record(event)
        message._ledger_recorded = True
        step_context.set(None)
        if exception is not None and message.failed:
            self._final_failure(broker, message, f"{message.actor_name} failed: {describe(exception)}")

    def after_skip_message(self, broker, message) -> None:
        with self._lock:
            self.in_flight.pop(message.message_id, None)
            self._recorded_running.discard(message.message_id)
        if getattr(message, "_ledger_handled", False):
            step_context.set(None)
            return  # refused before it ran, and recorded by what refused it
        poison = getattr(message, "_ledger_poison", None)
        if poison is not None:
            status, error = "dead-lettered", (
                f"started at least {poison} times without finishing (it kills or hangs its worker); dead-lettered")
        else:
            status, error = "skipped", "skipped (older than its max age, or skipped by a middleware)"
        self.writer.record(self._event(broker, message, status, ENDED, finished_at=utcnow(), error=error,
                                       incident=status, counted=status))
        message._ledger_recorded = True
        logger.warning("message %s of %s %s: %s", message.message_id, message.actor_name, status, error)
        step_context.set(None)
        if message.failed:
            reason = (f"{message.actor_name} dead-lettered after at least {poison} starts without finishing"
                      if poison is not None else f"{message.actor_name} {error}")
            self._final_failure(broker, message, reason)

    # -- final failure --------------------------------------------------------

    def after_nack(self, broker, message) -> None:
        if getattr(message, "_ledger_recorded", False):
            return
        # Never reached an actor (unknown actor): not a step of ours, only recorded.
        exception = getattr(message, "_exception", None)
        reason = describe(exception) or "rejected"
        if isinstance(exception, dramatiq.errors.ActorNotFound):
            reason = f"no actor named {message.actor_name!r}"
        self.writer.record(self._event(broker, message, "dead-lettered", ENDED, finished_at=utcnow(),
                                       error=reason, incident="dead-lettered", counted="dead-lettered"))
        logger.error("message %s for %s dead-lettered: %s", message.message_id, message.actor_name, reason)

    def _final_failure(self, broker, message, error: str) -> None:
        """The run's reaction to a step or child that failed for good.

        Taken before the message is rejected: if this process dies first, the
        message is redelivered and fails again, so the reaction is not lost.
        """
        options = self._options(broker, message)
        role = options.get("step_role")
        run_id = valid_run_id(message)
        if role not in (STEP, CHILD) or not run_id:
            return
        self._retrying(lambda: self._react(role, options, run_id, message, error))

    def _react(self, role: str, options: dict, run_id: str, message, error: str) -> None:
        control = self._control_factory()
        if role == CHILD:
            control.arrive(run_id, options["step_index"], message.message_id, failed=True)
        else:
            control.fail(run_id, error)

    @staticmethod
    def _retrying(action, attempts: int = 5) -> None:
        # Hook exceptions are swallowed by Dramatiq, so a lost reaction would
        # leave a run hanging: try a few times before giving up loudly.
        delay_s = 0.5
        for attempt in range(1, attempts + 1):
            try:
                action()
                return
            except Exception:
                if attempt == attempts:
                    logger.exception("could not record a final failure in the run ledger")
                    raise
                time.sleep(delay_s)
                delay_s *= 2


def valid_run_id(message) -> str | None:
    """The message's run id if it is one: a malformed message must not break the ledger."""
    run_id = message.kwargs.get("run_id") if isinstance(message.kwargs, dict) else None
    try:
        return str(uuid.UUID(str(run_id))) if run_id else None
    except ValueError:
        return None


def _is_bad_message(exception: BaseException) -> bool:
    from .errors import BadMessage

    return isinstance(exception, BadMessage)
