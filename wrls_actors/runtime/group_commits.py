"""Group commit: one thread per process writes, in groups, what the worker threads hand over.

The start committer (starts.py) and the fan-in committer (fan_in.py) each
write a durable row for every message, which a worker thread must wait for:
one transaction per message would make PostgreSQL the service's bottleneck.
Instead a worker thread hands its items over and waits; the committer thread
writes everything handed over since its last write in one group, on its own
connection, and wakes the waiters.

A hand-over is the list one ``submit_all`` gives: it is written in one group
and its waiters share one event, set once the group is written. A batch of
children (child_batches.py) is one hand-over; an event of its own for every
item took 4 % of the worker processes' time in creating them alone.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from contextlib import closing
from typing import Generic, Protocol, TypeVar

from sqlalchemy import Engine
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.pool import PoolProxiedConnection

logger = logging.getLogger(__name__)

MAX_GROUP = 500
WAIT_S = 60


class Handed(Protocol):
    """An item a committer writes: its hand-over's event, and the error its group met, if any."""

    done: threading.Event | None
    error: BaseException | None


T = TypeVar("T", bound=Handed)


class GroupCommitter(Generic[T]):
    """One committer thread per process; ``wait`` blocks until an item's group is written.

    A subclass says how to connect (``_connect``), how to write a group on
    a cursor of that connection (``_write_group``) and what an item is called
    in an error (``_describe``). An error while writing a group is given to
    each of its items, and the connection is replaced unless the error is
    one of ``keeps_connection``.
    """

    thread_name = "group-commits"
    keeps_connection: tuple[type[BaseException], ...] = ()

    def __init__(self, engine_factory: Callable[[], Engine]) -> None:
        self._engine_factory = engine_factory
        self._queue: queue.SimpleQueue[tuple[list[T], threading.Event]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._connection: PoolProxiedConnection | None = None

    def submit_all(self, items: Sequence[T]) -> None:
        """Hand items over without waiting: they are written in one group."""
        if not items:
            return
        done = threading.Event()
        for item in items:
            item.done = done
            item.error = None
        self._ensure_thread()
        self._queue.put((list(items), done))

    def wait(self, item: T) -> T:
        """Wait until a handed-over item's group is written; raise what writing it raised."""
        done = item.done
        if done is None:
            raise RuntimeError(f"{self._describe(item)} was never handed over")
        if not done.wait(WAIT_S):
            raise TimeoutError(f"{self._describe(item)} not written within {WAIT_S}s")
        if item.error is not None:
            raise item.error
        return item

    def _describe(self, item: T) -> str:
        return repr(item)

    def _connect(self, engine: Engine) -> PoolProxiedConnection:
        raise NotImplementedError

    def _write_group(self, cursor: DBAPICursor, group: list[T]) -> None:
        raise NotImplementedError

    def _commit(self, group: list[T]) -> None:
        """Write ``group``; each item that could not be written carries the error. Never raises."""
        try:
            self._write(group)
        except Exception as e:
            for item in group:
                item.error = e

    def _write(self, group: list[T]) -> None:
        if self._connection is None:
            self._connection = self._connect(self._engine_factory())
        connection = self._connection
        try:
            with closing(connection.cursor()) as cursor:
                self._write_group(cursor, group)
        except self.keeps_connection:
            raise
        except BaseException:
            self._connection = None
            try:
                connection.close()
            except Exception:
                logger.debug("closing a broken connection failed", exc_info=True)
            raise

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                self._pid = os.getpid()
                self._connection = None  # a forked process must not share its parent's
                self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            handovers = [self._queue.get()]
            size = len(handovers[0][0])
            while size < MAX_GROUP:
                try:
                    handover = self._queue.get_nowait()
                except queue.Empty:
                    break
                handovers.append(handover)
                size += len(handover[0])
            group = [item for items, _ in handovers for item in items]
            try:
                self._commit(group)
            except Exception as e:
                # A fault in a subclass's _commit: whatever it wrote is written again when retried.
                logger.exception("%s: a group could not be written", self.thread_name)
                for item in group:
                    item.error = e
            for _, done in handovers:
                done.set()
