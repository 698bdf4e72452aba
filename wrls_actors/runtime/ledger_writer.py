"""The ledger writer: step events batched into few transactions.

Recording every message's queued, running and finished states one statement at
a time would make PostgreSQL the bottleneck of the whole service. Instead each
process queues its events in memory and one thread writes them every
``flush_ms`` milliseconds (or every ``batch`` events): one upsert of the step
rows, the incidents and the counter increments, in one transaction, so the
counters always agree with the rows. Events of one message coming from several
processes are ordered by ``(attempt, deliveries, rank)``: an older one never
overwrites a newer one, whichever process flushes first.

Events that decide what happens next (redeliveries, run and barrier changes)
do not come through here: they are written synchronously by their callers.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import queue
import threading
import time
from collections import defaultdict
from datetime import date, datetime
from typing import Any

import psycopg2
from psycopg2.extras import execute_values
from sqlalchemy import Engine

from .database import labels_json

logger = logging.getLogger(__name__)

QUEUED, RUNNING, ENDED = 0, 1, 2
DURATION_BUCKETS_S = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800)


@dataclasses.dataclass(slots=True)
class StepEvent:
    message_id: str
    created_on: date  # the UTC day of the message's timestamp (lifecycle.created_on): the row's partition
    actor: str
    queue: str
    status: str
    attempt: int
    deliveries: int
    rank: int
    run_id: str | None = None
    job: str | None = None
    enqueued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None
    time_limit_ms: int | None = None
    error: str | None = None
    timeouts: int = 0
    incident: str | None = None  # an events row of this kind is written too
    counted: str | None = None  # steps_total outcome to bump
    worker: str | None = None  # the worker process that recorded it running (workers.identity)
    drop_row: bool = False  # the message's row is deleted, not written: its fan-in arrival records it

    @property
    def order(self) -> tuple[int, int, int]:
        return (self.attempt, self.deliveries, self.rank)


def merge(events: list[StepEvent]) -> dict[str, StepEvent]:
    """Fold one batch's events into one row per message, newest state winning."""
    rows: dict[str, StepEvent] = {}
    for event in events:
        row = rows.get(event.message_id)
        if row is None:
            rows[event.message_id] = event  # events are not reused once recorded
            continue
        newer, older = (event, row) if event.order >= row.order else (row, event)
        merged = dataclasses.replace(newer)
        for field in ("run_id", "job", "enqueued_at", "time_limit_ms", "worker"):
            if getattr(merged, field) is None:
                setattr(merged, field, getattr(older, field))
        if merged.started_at is None and merged.order[:2] == older.order[:2]:
            merged.started_at = older.started_at
        merged.timeouts = row.timeouts + event.timeouts
        rows[event.message_id] = merged
    return rows


UPSERT = """
INSERT INTO jobs.steps AS s (message_id, created_on, run_id, actor, queue, attempt, deliveries, rank, status,
    enqueued_at, started_at, heartbeat_at, finished_at, duration_ms, time_limit_ms, error, timeouts, worker)
VALUES %s
ON CONFLICT (message_id, created_on) DO UPDATE SET
    run_id = coalesce(s.run_id, EXCLUDED.run_id),
    worker = coalesce(EXCLUDED.worker, s.worker),
    enqueued_at = coalesce(s.enqueued_at, EXCLUDED.enqueued_at),
    time_limit_ms = coalesce(EXCLUDED.time_limit_ms, s.time_limit_ms),
    timeouts = s.timeouts + EXCLUDED.timeouts,
    status = CASE WHEN (EXCLUDED.attempt, EXCLUDED.deliveries, EXCLUDED.rank) >= (s.attempt, s.deliveries, s.rank)
                  THEN EXCLUDED.status ELSE s.status END,
    started_at = CASE WHEN (EXCLUDED.attempt, EXCLUDED.deliveries) > (s.attempt, s.deliveries)
                      THEN EXCLUDED.started_at ELSE coalesce(s.started_at, EXCLUDED.started_at) END,
    heartbeat_at = greatest(s.heartbeat_at, EXCLUDED.heartbeat_at),
    finished_at = CASE WHEN (EXCLUDED.attempt, EXCLUDED.deliveries, EXCLUDED.rank) >= (s.attempt, s.deliveries, s.rank)
                       THEN EXCLUDED.finished_at ELSE s.finished_at END,
    duration_ms = CASE WHEN (EXCLUDED.attempt, EXCLUDED.deliveries, EXCLUDED.rank) >= (s.attempt, s.deliveries, s.rank)
                       THEN EXCLUDED.duration_ms ELSE s.duration_ms END,
    error = CASE WHEN (EXCLUDED.attempt, EXCLUDED.deliveries, EXCLUDED.rank) >= (s.attempt, s.deliveries, s.rank)
                 THEN coalesce(EXCLUDED.error, s.error) ELSE s.error END,
    attempt = greatest(s.attempt, EXCLUDED.attempt),
    deliveries = CASE WHEN EXCLUDED.attempt > s.attempt THEN EXCLUDED.deliveries
                      WHEN EXCLUDED.attempt = s.attempt THEN greatest(s.deliveries, EXCLUDED.deliveries)
                      ELSE s.deliveries END,
    rank = CASE WHEN (EXCLUDED.attempt, EXCLUDED.deliveries, EXCLUDED.rank) >= (s.attempt, s.deliveries, s.rank)
                THEN EXCLUDED.rank ELSE s.rank END
"""

# The rows of children that succeeded at once, locked in the order the writer's upsert and SETTLE_CHILDREN
# (runs.py) lock rows in, and committed before the upsert (write_batch), so that they wait for each other
# instead of deadlocking. Only a row as its
# start wrote it goes, or as the fan-in's firing settled it (SETTLE_CHILDREN, often first when the
# child was the last to arrive): one a redelivery, retry or the stall sweep changed is kept.
DROP = """
WITH doomed AS (
    SELECT message_id, created_on FROM jobs.steps
    WHERE created_on = ANY(%(days)s::date[]) AND message_id = ANY(%(ids)s::text[])
      AND status IN ('running', 'succeeded') AND attempt = 1 AND deliveries = 1 AND stalls = 0
    ORDER BY message_id COLLATE "C", created_on FOR UPDATE
)
DELETE FROM jobs.steps s USING doomed d
WHERE s.created_on = ANY(%(days)s::date[]) AND s.message_id = d.message_id AND s.created_on = d.created_on
"""

INSERT_EVENTS = "INSERT INTO jobs.events (at, kind, job, actor, queue, run_id, message_id, detail) VALUES %s"

BUMP = """
INSERT INTO jobs.counters AS c (name, labels, value) VALUES %s
ON CONFLICT (name, labels) DO UPDATE SET value = c.value + EXCLUDED.value
"""


def counter_rows(events: list[StepEvent]) -> list[tuple[str, str, float]]:
    """The batch's counter increments, one row per counter and label set, sorted (the order every
    writer locks them in, so two never wait on each other).

    A batch has many events and few actors: each event's duration is put in its one bucket (a
    bisection), and the histogram's cumulative buckets are added up per actor at the end.
    """
    outcomes: defaultdict[tuple[str, str, str], int] = defaultdict(int)
    timeouts: defaultdict[tuple[str, str], int] = defaultdict(int)
    # Per actor and queue: count, sum of seconds, then the events in each bucket alone.
    durations: dict[tuple[str, str], list[float]] = {}
    for e in events:
        if e.counted:
            outcomes[(e.actor, e.queue, e.counted)] += 1
        if e.timeouts:
            timeouts[(e.actor, e.queue)] += e.timeouts
        if e.rank == ENDED and e.duration_ms is not None:
            seconds = e.duration_ms / 1000
            histogram = durations.get((e.actor, e.queue))
            if histogram is None:
                histogram = durations[(e.actor, e.queue)] = [0.0] * (2 + len(DURATION_BUCKETS_S))
            histogram[0] += 1
            histogram[1] += seconds
            bucket = bisect.bisect_left(DURATION_BUCKETS_S, seconds)  # the first bound >= seconds
            if bucket < len(DURATION_BUCKETS_S):
                histogram[2 + bucket] += 1
    rows: list[tuple[str, str, float]] = []
    for (actor, queue_name, outcome), n in outcomes.items():
        rows.append(("steps_total", labels_json({"actor": actor, "queue": queue_name, "outcome": outcome}), n))
    for (actor, queue_name), n in timeouts.items():
        rows.append(("steps_timed_out_total", labels_json({"actor": actor, "queue": queue_name}), n))
    for (actor, queue_name), histogram in durations.items():
        plain = labels_json({"actor": actor, "queue": queue_name})
        rows.append(("step_duration_seconds_count", plain, histogram[0]))
        rows.append(("step_duration_seconds_sum", plain, histogram[1]))
        cumulative = 0.0
        for bound, alone in zip(DURATION_BUCKETS_S, histogram[2:], strict=True):
            cumulative += alone
            if cumulative:
                bucket_labels = labels_json({"actor": actor, "queue": queue_name, "le": str(bound)})
                rows.append(("step_duration_seconds_bucket", bucket_labels, cumulative))
    rows.sort()
    return rows


def write_batch(connection: Any, events: list[StepEvent]) -> None:
    """Write one batch on a DB-API connection: the rows of children that succeeded at once deleted and
    committed first, then everything else in a second transaction.

    Each transaction locks its rows in message-id order, as the fan-in's firing does (SETTLE_CHILDREN).
    Deleting and upserting in one transaction locked the deleted rows, then the others: two passes, so it
    could hold a child's row the firing wanted next while it waited for one the firing held (a deadlock).
    """
    merged = merge(events)
    rows = {m: r for m, r in merged.items() if not r.drop_row}
    dropped = [r for r in merged.values() if r.drop_row]
    incidents = [e for e in events if e.incident]
    if dropped:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")  # as routine rows, below
            cursor.execute(
                DROP,
                {
                    "days": sorted({r.created_on for r in dropped}),
                    "ids": [r.message_id for r in dropped],
                },
            )
        connection.commit()
    with connection.cursor() as cursor:
        if not incidents:
            # Routine rows (queued, running, succeeded) need not wait for the disk:
            # a database crash could lose the last fraction of a second of them,
            # never a failure, nor any run, barrier or tick decision.
            cursor.execute("SET LOCAL synchronous_commit = off")
        execute_values(
            cursor,
            UPSERT,
            [
                (
                    r.message_id,
                    r.created_on,
                    r.run_id,
                    r.actor,
                    r.queue,
                    r.attempt,
                    r.deliveries,
                    r.rank,
                    r.status,
                    r.enqueued_at,
                    r.started_at,
                    r.started_at,
                    r.finished_at,
                    r.duration_ms,
                    r.time_limit_ms,
                    r.error,
                    r.timeouts,
                    r.worker,
                )
                # In one order everywhere (message id, byte order: COLLATE "C" in SQL): two transactions
                # locking some of the same rows then wait for each other instead of deadlocking.
                for r in sorted(rows.values(), key=lambda r: (r.message_id, r.created_on))
            ],
            page_size=1000,
        )
        if incidents:
            execute_values(
                cursor,
                INSERT_EVENTS,
                [
                    (
                        e.finished_at or e.started_at or e.enqueued_at,
                        e.incident,
                        e.job,
                        e.actor,
                        e.queue,
                        e.run_id,
                        e.message_id,
                        e.error,
                    )
                    for e in incidents
                ],
            )
        counts = counter_rows(events)
        if counts:
            execute_values(cursor, BUMP, counts, template="(%s, CAST(%s AS jsonb), %s)")
    connection.commit()


class LedgerWriter:
    """Per-process background writer of step events."""

    def __init__(self, engine: Engine, flush_ms: int = 100, batch: int = 2000) -> None:
        self.engine = engine
        self.flush_s = flush_ms / 1000
        self.batch = batch
        self._queue: queue.SimpleQueue[StepEvent | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0

    def record(self, event: StepEvent) -> None:
        self._ensure_started()
        with self._lock:
            if self._pending == 0:
                self._idle.clear()
            self._pending += 1
        self._queue.put(event)

    def _ensure_started(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
                    self._thread.start()

    def flush(self, timeout_s: float = 30) -> bool:
        """Wait until every recorded event is written; False on time-out."""
        return self._idle.wait(timeout_s)

    def stop(self, timeout_s: float = 30) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout_s)

    def _write_once(self, events: list[StepEvent]) -> None:
        connection = self.engine.raw_connection()
        try:
            write_batch(connection, events)
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            events = [first]
            deadline = time.monotonic() + self.flush_s
            while len(events) < self.batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    event = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                if event is None:
                    stopping = True
                    break
                events.append(event)
            self._write(events)
        # Drain what came in after the stop request.
        rest = []
        while True:
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                break
            if event is not None:
                rest.append(event)
        if rest:
            self._write(rest)

    def _write(self, events: list[StepEvent]) -> None:
        delay_s = 0.5
        while True:
            try:
                self._write_once(events)
                break
            except psycopg2.DataError:
                # One bad value must not block the ledger: write the rest one by one.
                for event in events:
                    try:
                        self._write_once([event])
                    except psycopg2.DataError:
                        logger.exception("ledger event not writable, dropped: %r", event)
                break
            except Exception:
                # Never drop ledger rows: keep the batch and try again.
                logger.exception("ledger write of %d events failed; retrying in %.1fs", len(events), delay_s)
                time.sleep(delay_s)
                delay_s = min(delay_s * 2, 10)
        with self._lock:
            self._pending -= len(events)
            if self._pending == 0:
                self._idle.set()
