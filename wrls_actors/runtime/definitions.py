"""How an application declares its jobs and schedules: plain data.

A job is an ordered list of steps. A step is one Dramatiq actor named
``<job>.<step>``. A step with ``fan_out`` returns the items to fan out; the
runtime sends one ``fan_out`` child message per item (or per chunk of
``chunk`` items, see :class:`Step`) and continues with the next step exactly
once, when every item has ended.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn
from uuid import UUID

from .errors import ConfigurationError, RetryLater
from .params import Param, declare

if TYPE_CHECKING:
    from .calendar import Calendar
    from .ledger_view import LedgerView, RunInfo

# What a child failure does to the run when the fan-in fires.
CONTINUE = "continue"
FAIL = "fail"

# Items in one message of a chunked fan-out, at most: its message must stay well below the size limit.
MAX_CHUNK = 1000

# Overlap policies: what a scheduled tick does while the job's previous run is still going.
SKIP = "skip"
ALLOW = "allow"

# Catch-up policies: what the scheduler does with ticks missed while it was down.
LATEST = "latest"
NONE = "none"


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of a job.

    ``time_limit`` defaults to 5 minutes; ``max_retries`` to 3, with backoff
    from ``min_backoff`` (5 seconds) doubling up to ``max_backoff`` (5 minutes).
    Every one of them must stay below RabbitMQ's consumer timeout.

    ``chunk``, on a fan-out's child: its messages carry up to ``chunk`` items
    each (``StepContext.items``), for work done set-based, in one
    transaction per call. A call that raises is made again on each half of
    its items, down to single items (``chunks.py``), so an item that cannot
    be done fails alone, named, and the others are done: the function must
    be idempotent and must not commit part of its items.
    """

    name: str
    fn: Callable[..., Any]
    queue: str | None = None
    time_limit: timedelta = timedelta(minutes=5)
    max_retries: int = 3
    min_backoff: timedelta = timedelta(seconds=5)
    max_backoff: timedelta = timedelta(minutes=5)
    fan_out: Step | None = None
    on_child_failure: str = CONTINUE
    chunk: int | None = None

    def __post_init__(self) -> None:
        if self.chunk is not None and not (isinstance(self.chunk, int) and 1 <= self.chunk <= MAX_CHUNK):
            raise ConfigurationError(f"step {self.name}: chunk must be 1 to {MAX_CHUNK} items, got {self.chunk!r}")
        if self.fan_out is not None and self.chunk is not None:
            raise ConfigurationError(f"step {self.name}: chunk belongs on the fan-out's child step")
        if self.on_child_failure not in (CONTINUE, FAIL):
            raise ConfigurationError(f"step {self.name}: on_child_failure must be {CONTINUE!r} or {FAIL!r}")


@dataclasses.dataclass(frozen=True)
class Job:
    """A named pipeline of steps; ``queue`` is the default queue of its steps.

    ``params`` declares every parameter its steps read: a start with any
    other is refused (see ``params.py``). Defaults to none.
    """

    name: str
    steps: tuple[Step, ...]
    queue: str = "default"
    overlap: str = SKIP
    params: tuple[Param, ...] = ()

    def __post_init__(self) -> None:
        if not self.steps:
            raise ConfigurationError(f"job {self.name} has no steps")
        object.__setattr__(self, "params", declare(self.params, f"job {self.name}"))
        chunked = [s.name for s in self.steps if s.chunk is not None]
        if chunked:
            raise ConfigurationError(
                f"job {self.name}: chunk is for a fan-out's child step, not for {', '.join(chunked)}"
            )
        names = [s.name for s in self.steps] + [s.fan_out.name for s in self.steps if s.fan_out]
        duplicated = [n for n, c in Counter(names).items() if c > 1]
        if duplicated:
            raise ConfigurationError(f"job {self.name}: step names repeated: {', '.join(duplicated)}")

    def actor_name(self, step: Step) -> str:
        return f"{self.name}.{step.name}"

    def queue_of(self, step: Step) -> str:
        return step.queue or self.queue


@dataclasses.dataclass(frozen=True)
class Schedule:
    """When a job starts by itself: a cron expression or an interval, never both."""

    job: str
    cron: str | None = None
    every: timedelta | None = None
    overlap: str = SKIP
    catch_up: str = LATEST
    enabled: bool = True
    title: str = ""  # how people name the job, for the timeline
    note: str = ""  # free text shown beside it (e.g. the system it replaces)

    @property
    def name(self) -> str:
        return self.job

    def describe(self) -> str:
        if self.every is not None:
            return f"every {int(self.every.total_seconds())}s"
        return self.cron or ""


@dataclasses.dataclass
class StepContext:
    """What a step function is given: the run, its parameters, a place to count, and what it may ask.

    A step learns about other runs, ticks and schedules from here (``ledger``,
    ``calendar`` and the shortcuts below), never from the ledger's tables.
    """

    run_id: UUID
    job: str
    step: str
    params: Mapping[str, Any]
    message_id: str
    attempt: int
    logger: logging.LoggerAdapter[logging.Logger]
    item: Any = None
    items: list[Any] | None = None  # a chunked child's items (``item`` is then None)
    engine: Any = None  # the service's database (a SQLAlchemy Engine)
    counts: Counter[str] = dataclasses.field(default_factory=Counter)
    ending: str | None = None
    calendar: Calendar | None = None  # the service's schedules, overrides applied; None: no schedules

    @property
    def ledger(self) -> LedgerView:
        """Read-only views of runs, ticks and events (``runtime.LedgerView``)."""
        from .ledger_view import LedgerView

        return LedgerView(self.engine)

    def run(self) -> RunInfo:
        """This run as the ledger has it now (its nominal time, its age by the database's clock)."""
        info = self.ledger.run(self.run_id)
        if info is None:
            raise LookupError(f"run {self.run_id} is not in the ledger")
        return info

    def is_running(self, job: str, *, at_step: int | None = None) -> RunInfo | None:
        """The job's oldest running run (at step ``at_step`` if given), or None."""
        runs = self.ledger.running(job, at_step=at_step)
        return runs[0] if runs else None

    def tick_claimed(self, schedule: str, nominal: datetime) -> bool:
        """Whether the scheduler has handled the schedule's tick of ``nominal``."""
        return self.ledger.tick_claimed(schedule, nominal)

    def fires_at(self, schedule: str, moment: datetime | None) -> bool:
        """Whether the schedule, as the service runs it, has a tick at ``moment``."""
        return self.calendar is not None and self.calendar.fires_at(schedule, moment)

    def retry_later(self, reason: str, delay: timedelta) -> NoReturn:
        """End this attempt; the step runs again after ``delay`` (see :class:`RetryLater`)."""
        raise RetryLater(reason, delay)

    def count(self, name: str, n: int = 1) -> None:
        """Add to one of the run's counts (summed over steps and children)."""
        self.counts[name] += n

    def end_run(self, note: str) -> None:
        """End the run successfully once this step returns, skipping the steps after it.

        For a step that finds there is nothing to do (an unchanged input); the
        note is kept on the run. A fan-out child cannot end its run.
        """
        if self.item is not None or self.items is not None:
            raise RuntimeError(f"{self.job}.{self.step}: a fan-out child cannot end its run")
        self.ending = note
