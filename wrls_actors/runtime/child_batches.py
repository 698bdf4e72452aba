"""Fan-out children taken in batches: one worker thread runs the cheap children already prefetched together.

Dramatiq's worker thread takes one message at a time. A fan-out child waits
twice on PostgreSQL: its start is checked and recorded before its work
(starts.py), its arrival counted before its ack (fan_in.py). Each wait is a
commit and a hand-over between threads, for every child, however little
work it does. Here a worker thread that takes a batchable child also takes
the children of the same actor already waiting in its process (up to
``MAX_BATCH``), hands over all their starts at once (one statement), runs
each through the whole middleware stack as before, hands over all their
arrivals at once (one statement), and only then acknowledges them together.

Nothing is acknowledged earlier than before: a child is settled after its
arrival is committed and its barrier, if complete, fired. A child whose
arrival or firing failed is returned to its queue unacknowledged, and its
redelivery runs alone, as every redelivered message does.

Batched: a message of a child actor that is not chunked (``batchable``),
at its first attempt and first delivery, correctly signed, whose actor's
children have been quick in this process (``BATCH_BELOW_S``). Another
message taken from the work queue ends the batch and runs after it, on its
own. Only on RabbitMQ: the in-process broker has no queue to return a child
to.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Mapping
from functools import partial
from queue import Empty
from typing import TYPE_CHECKING, Any

import dramatiq
from dramatiq.middleware import Middleware
from dramatiq.worker import ConsumerThread, WorkerThread

from .fan_in import Arrival
from .heartbeats import Heartbeats
from .lifecycle import Message
from .rabbitmq import Rabbitmq
from .signing import Signatures
from .start_checks import StartChecks

if TYPE_CHECKING:
    from .runs import RunControl

logger = logging.getLogger(__name__)

MAX_BATCH = 64
# Batched: children whose own work takes under BATCH_BELOW_S (their step function's time, without the
# ledger's), as many as fit in BATCH_BUDGET_S of it. The round trips and hand-overs a batch saves are
# most of such a child's cost; a longer child, or one waiting on other services, keeps its own thread, as
# does every child until one of its actor's has run in this process.
BATCH_BELOW_S = 0.005
BATCH_BUDGET_S = 0.05
# Exponentially weighted: a run's first children weigh on it for a few dozen messages.
WEIGHT = 0.1
_work_s: dict[str, float] = {}

# The arrivals of the batch the current worker thread is running; None outside a batch.
_batch_arrivals: contextvars.ContextVar[list[Arrival] | None] = contextvars.ContextVar(
    "wrls_batch_arrivals", default=None
)


def arrive(control: RunControl, arrival: Arrival) -> None:
    """A child's arrival: settled now, or, in a batch, with the batch's before any of them is acknowledged."""
    pending = _batch_arrivals.get()
    if pending is None:
        control.submit_arrivals([arrival])
        control.settle(arrival)
    else:
        pending.append(arrival)


def observe(actor_name: str, work_s: float) -> None:
    """How long a child of ``actor_name`` took over its own work (its step function), in this process."""
    before = _work_s.get(actor_name)
    _work_s[actor_name] = work_s if before is None else before + WEIGHT * (work_s - before)


class _DeferredSettling(Mapping[str, Any]):
    """The worker's consumers as a worker thread sees them during a batch: settling a message waits for
    the batch's end."""

    def __init__(self, consumers: dict[str, ConsumerThread], deferred: list[Message]) -> None:
        self._consumers = consumers
        self._deferred = deferred

    def __getitem__(self, queue_name: str) -> Any:
        return self

    def __iter__(self) -> Any:
        return iter(self._consumers)

    def __len__(self) -> int:
        return len(self._consumers)

    def post_process_message(self, message: Message) -> None:
        self._deferred.append(message)


class ChildBatches(Middleware):
    """Installs batching worker threads in a RabbitMQ worker."""

    actor_options = {"batchable"}

    def __init__(
        self,
        start_checks: StartChecks,
        heartbeats: Heartbeats,
        signatures: Signatures,
        control_factory: Callable[[], RunControl],
    ) -> None:
        self.start_checks = start_checks
        self.heartbeats = heartbeats
        self.signatures = signatures
        self._control_factory = control_factory

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if not isinstance(broker, Rabbitmq):
            return  # the in-process broker: no queue to return a child to
        # Dramatiq's worker adds its threads by this method, each a WorkerThread: ours is one too.
        worker._add_worker = partial(_add_batching_thread, worker, self)  # type: ignore[method-assign]

    def batch_size(self, broker: dramatiq.Broker, message: Message) -> int:
        """How many messages of its actor to run in a batch with ``message`` (1: alone)."""
        if not self.batchable(broker, message):
            return 1
        work_s = _work_s.get(message.actor_name)
        if work_s is None or work_s >= BATCH_BELOW_S:
            return 1
        return max(1, min(MAX_BATCH, int(BATCH_BUDGET_S / max(work_s, 1e-6))))

    def batchable(self, broker: dramatiq.Broker, message: Message) -> bool:
        if getattr(message, "redelivered", False) or message.options.get("retries"):
            return False
        try:
            actor = broker.get_actor(message.actor_name)
        except dramatiq.errors.ActorNotFound:
            return False
        return bool(actor.options.get("batchable")) and self.signatures.verified(broker, message)

    def settle(self, arrivals: list[Arrival]) -> set[str]:
        """Wait for a batch's arrivals and fire what they completed; the message ids of those that failed."""
        try:
            control = self._control_factory()
            control.submit_arrivals(arrivals)
        except Exception:
            logger.warning("a batch's arrivals could not be handed over: its children go back to their queue")
            return {arrival.message_id for arrival in arrivals}
        failed: set[str] = set()
        for arrival in arrivals:
            try:
                control.settle(arrival)
            except Exception:
                logger.warning(
                    "arrival of child %s could not be settled: it goes back to its queue",
                    arrival.message_id,
                    exc_info=True,
                )
                failed.add(arrival.message_id)
        return failed


def _add_batching_thread(worker: dramatiq.Worker, batches: ChildBatches) -> None:
    thread = BatchingWorkerThread(
        batches=batches,
        broker=worker.broker,
        consumers=worker.consumers,
        work_queue=worker.work_queue,
        worker_timeout=worker.worker_timeout,
    )
    thread.start()
    worker.workers.append(thread)


class BatchingWorkerThread(WorkerThread):
    def __init__(self, *, batches: ChildBatches, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._batches = batches

    def process_message(self, message: Message) -> None:
        next_message: Message | None = message
        while next_message is not None:
            next_message = self._process_from(next_message)

    def _process_from(self, message: Message) -> Message | None:
        """Run ``message``, with the batch it starts if it is batchable; the message taken from the work
        queue that ended the batch, if any, to run next."""
        size = self._batches.batch_size(self.broker, message)
        batch = [message]
        other = None
        while len(batch) < size:
            try:
                item = self.work_queue.get_nowait()
            except Empty:
                break
            if item.message.actor_name == message.actor_name and self._batches.batchable(self.broker, item.message):
                batch.append(item.message)
            else:
                other = item.message
                break
        if len(batch) == 1:
            super().process_message(message)
        else:
            self._process_batch(batch)
        return other

    def _process_batch(self, batch: list[Message]) -> None:
        self._batches.start_checks.submit_all(self.broker, batch)
        # Recorded running now, each waits its turn: the heartbeat keeps the sweep from taking it for stalled.
        waiting = [message.message_id for message in batch]
        self._batches.heartbeats.waiting(waiting)
        arrivals: list[Arrival] = []
        deferred: list[Message] = []
        consumers = self.consumers
        self.consumers = _DeferredSettling(consumers, deferred)  # type: ignore[assignment]
        token = _batch_arrivals.set(arrivals)
        try:
            for message in batch:
                super().process_message(message)
        finally:
            _batch_arrivals.reset(token)
            self.consumers = consumers
            self._batches.heartbeats.not_waiting(waiting)
        returned = self._batches.settle(arrivals)
        for message in deferred:
            consumer = consumers[message.queue_name]
            if message.message_id not in returned:
                consumer.post_process_message(message)
                continue
            try:
                consumer.consumer.release(message)  # type: ignore[union-attr]
            except Exception:
                # Its connection is gone: RabbitMQ returns it to the queue by itself.
                logger.warning("child %s could not be returned to its queue", message.message_id, exc_info=True)
