"""Heartbeats: one thread per process beats for its running steps and sweeps for stalls.

Every ``heartbeat_s`` it records as running the steps that started since its
last beat and were not recorded running yet, and updates the heartbeat of
the others. Most steps end within a beat and never need a ``running`` row:
their final event carries their start. Every ``sweep_s`` it also marks
stalled the steps of any process that stopped beating (stalls.py) and fires
the barriers whose firing was lost. The process itself is a worker in the
ledger (workers.py): registered when its worker boots, beating with its steps,
marked stopped on a clean shutdown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import dramatiq
from dramatiq.middleware import Middleware
from sqlalchemy import Engine

from .ledger_writer import RUNNING, StepEvent
from .lifecycle import Message, actor_options, utcnow
from .recording import step_event
from .stalls import heartbeat, sweep
from .workers import beat, register, stopped

if TYPE_CHECKING:
    from .runs import RunControl

logger = logging.getLogger(__name__)


class Heartbeats(Middleware):
    """Watches the messages being processed; its thread beats for them and sweeps for stalls."""

    def __init__(
        self,
        engine_factory: Callable[[], Engine],
        record: Callable[[StepEvent], None],
        control_factory: Callable[[], RunControl],
        *,
        heartbeat_s: float,
        stall_after_s: float,
        stall_grace_s: float,
        sweep_s: float,
    ) -> None:
        self._engine_factory = engine_factory
        self._record = record
        self._control_factory = control_factory
        self.heartbeat_s = heartbeat_s
        self.stall_after_s = stall_after_s
        self.stall_grace_s = stall_grace_s
        self.sweep_s = sweep_s
        # message id -> (broker, message, wall-clock start): the messages being processed.
        self.in_flight: dict[str, tuple[dramatiq.Broker, Message, datetime]] = {}
        self._recorded_running: set[str] = set()
        # Recorded running by a batch's start, waiting for their turn in it (child_batches.py): beaten too.
        self._waiting: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.worker_id: str | None = None

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        self._start()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # Dramatiq's worker keeps the queues it was given (--queues) as its whitelist; none: every queue.
        queues = worker.consumer_whitelist or broker.get_declared_queues()
        try:
            self.worker_id = register(self._engine_factory(), queues)
        except Exception:
            # The console would miss this worker; its steps must still run.
            logger.exception("could not record this worker in the ledger")
        self._start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.stop()
        if self.worker_id is not None:
            try:
                stopped(self._engine_factory(), self.worker_id)
            except Exception:
                logger.exception("could not record this worker stopped in the ledger")

    def stop(self) -> None:
        """Stop beating and sweeping (the thread ends at its next wake-up)."""
        self._stop.set()

    def waiting(self, message_ids: list[str]) -> None:
        """Messages recorded running that wait for their turn in a batch: beaten until they run or leave it."""
        with self._lock:
            self._waiting.update(message_ids)

    def not_waiting(self, message_ids: list[str]) -> None:
        with self._lock:
            self._waiting.difference_update(message_ids)

    def before_process_message(self, broker: dramatiq.Broker, message: Message) -> None:
        started_at = getattr(message, "_ledger_started_at", None) or utcnow()
        with self._lock:
            self._waiting.discard(message.message_id)
            self.in_flight[message.message_id] = (broker, message, started_at)
            if getattr(message, "_ledger_running_recorded", False):
                self._recorded_running.add(message.message_id)

    def after_process_message(
        self, broker: dramatiq.Broker, message: Message, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        with self._lock:
            self.in_flight.pop(message.message_id, None)

    def after_skip_message(self, broker: dramatiq.Broker, message: Message) -> None:
        with self._lock:
            self.in_flight.pop(message.message_id, None)
            self._recorded_running.discard(message.message_id)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._watch, name="ledger-heartbeat", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        last_sweep = 0.0
        while not self._stop.wait(self.heartbeat_s):
            try:
                if self.worker_id is not None:
                    beat(self._engine_factory(), self.worker_id)
                self._beat()
                if time.monotonic() - last_sweep >= self.sweep_s:
                    last_sweep = time.monotonic()
                    sweep(self._engine_factory(), self.stall_after_s, self.stall_grace_s)
                    self._control_factory().fire_forgotten_barriers(self.stall_after_s)
            except Exception:
                logger.exception("heartbeat or stall sweep failed")

    def _beat(self) -> None:
        """Record steps running since the last beat; heartbeat those recorded before."""
        with self._lock:
            running = dict(self.in_flight)
            self._recorded_running &= set(running)
            recorded = [m for m in running if m in self._recorded_running] + sorted(self._waiting - set(running))
            new = [m for m in running if m not in self._recorded_running]
            self._recorded_running.update(new)
        for message_id in new:
            broker, message, started_at = running[message_id]
            self._record(
                step_event(
                    broker,
                    message,
                    "running",
                    RUNNING,
                    started_at=started_at,
                    time_limit_ms=actor_options(broker, message).get("time_limit"),
                    worker=self.worker_id,
                )
            )
        if recorded:
            heartbeat(self._engine_factory(), recorded)
