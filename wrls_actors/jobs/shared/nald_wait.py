"""Waiting for the NALD swap: a job that reads ``import`` starts only on a complete one.

The legacy started ``import.charging-data`` at 01:00, the very minute the NALD
download began, and ``licence-import`` at 04:00 on the assumption that NALD had
finished. s3-download swaps ``import`` in one
transaction, so ``import`` is always complete; what a reader must avoid is
reading the *previous* extract while tonight's is loading. So it waits while a
``nald-import`` run is still at its first step (s3-download), and also while
tonight's ``nald-import`` tick, due at the reader's own nominal time, has not
been claimed yet: both jobs fire at 01:00 and their ticks are handled in no
particular order, so without this the reader would usually look before the
NALD run exists.

The wait is bounded (``timeout_s``, counted from the start of the reader's
run, so retries and redeliveries do not reset it). A step attempt must end
before RabbitMQ's consumer timeout (30 minutes), so one attempt waits at most
``slice_s`` (20 minutes), then raises the runtime's ``RetryLater``: the step
is retried ``poll_s`` later and the wait goes on from where the run's clock is. Each slice shows in the ledger as one retry of the step. A
step using this needs ``max_retries`` of at least :data:`WAIT_RETRIES` and a
time limit above ``slice_s``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from ...config import NALD_WAIT_MAX_S, config
from ...model.nald import S as IMPORT_SCHEMA
from ...nald.sql import missing_tables
from ...runtime import (
    SLICE_S,
    ConfigurationError,
    PermanentError,
    Step,
    StepContext,
    retries_for,
    wait_in_slices,
)

NALD_JOB = "nald-import"

#: Retries a waiting step needs to reach the longest allowed bound, plus a few for transient errors.
WAIT_RETRIES = retries_for(NALD_WAIT_MAX_S)


@dataclasses.dataclass(frozen=True)
class Blocker:
    """What a reader of ``import`` waits for: a NALD run still loading, or its tick not yet claimed."""

    what: str
    run_id: str | None = None

    def __str__(self) -> str:
        return self.what


def blocker(ctx: StepContext, tick: datetime | None) -> Blocker | None:
    """What the reader waits for, or ``None`` when ``import`` may be read.

    ``tick``: the nominal time of a nald-import tick due together with the reader's.
    The tick is read before the runs: a tick seen claimed has its run visible to the next read.
    """
    if tick is not None and not ctx.tick_claimed(NALD_JOB, tick):
        return Blocker(f"{NALD_JOB}'s tick of {tick.isoformat()} (not started yet)")
    loading = ctx.is_running(NALD_JOB, at_step=0)
    if loading is not None:
        return Blocker(
            f"{NALD_JOB} run {loading.run_id} (loading the NALD extract since {loading.started_at.isoformat()})",
            loading.run_id,
        )
    return None


def wait_for_nald_swap(
    ctx: StepContext,
    timeout_s: float,
    poll_s: float = 5,
    *,
    tables: Iterable[str] | None = None,
    slice_s: float = SLICE_S,
) -> int:
    """Wait until no NALD import is loading ``import``, then check it holds ``tables``.

    Returns the seconds waited, counted from the run's start and rounded up (0
    when nothing had to be waited for; an attempt after a retry always counts
    from the run's start, since an earlier one may have waited), after adding
    them to the run's count
    ``waited_for_nald_s`` and logging them. Raises :class:`PermanentError` when
    ``timeout_s`` has passed with NALD still loading, or when ``import`` lacks
    one of ``tables`` (default: every table of ``model/nald.py``), and
    ``RetryLater`` when this attempt has waited ``slice_s``.
    """
    nominal = ctx.run().nominal_time
    tick = nominal if ctx.fires_at(NALD_JOB, nominal) else None

    def waiting(b: Blocker) -> None:
        ctx.logger.info(
            "waiting for %s before reading %s (at most %ds from this run's start)", b.what, IMPORT_SCHEMA, timeout_s
        )

    def timed_out(b: Blocker, age: float) -> PermanentError:
        return PermanentError(
            f"{IMPORT_SCHEMA} not read: still waiting for {b.what} after {age:.0f}s, "
            f"the limit being {timeout_s:.0f}s (WRLS_NALD_WAIT_S); nothing was written"
        )

    waited_out = wait_in_slices(
        lambda: blocker(ctx, tick),
        lambda: ctx.run().age_s,
        bound_s=timeout_s,
        poll_s=poll_s,
        slice_s=slice_s,
        on_wait=waiting,
        timed_out=timed_out,
    )

    with ctx.engine.connect() as connection:
        wanted = None if tables is None else set(tables)
        missing = [t for t in missing_tables(connection) if wanted is None or t in wanted]
    if missing:
        raise PermanentError(
            f"schema {IMPORT_SCHEMA} lacks tables: {', '.join(missing)} "
            "(a NALD import swaps in only complete extracts: was it changed by hand?)"
        )

    # An earlier attempt of this step may have waited its slice: the run's clock says how long it all took.
    waited = math.ceil(waited_out.run_age_s) if waited_out.waited_here or ctx.attempt > 1 else 0
    ctx.count("waited_for_nald_s", waited)
    if waited:
        ctx.logger.info(
            "waited %ds for the NALD import%s; reading %s now", waited, _outcome(ctx, waited_out.awaited), IMPORT_SCHEMA
        )
    return waited


def _outcome(ctx: StepContext, awaited: Blocker | None) -> str:
    """How the awaited NALD run ended, for the log: a failed one left the previous extract in place."""
    if awaited is None or awaited.run_id is None:
        return ""
    run = ctx.ledger.run(awaited.run_id)
    if run is None:
        return ""
    if run.status == "failed":
        return f" (run {awaited.run_id} failed: {IMPORT_SCHEMA} still holds the previous extract)"
    return f" (run {awaited.run_id} {run.status}, at step {run.step_index})"


def wait_for_nald_step(tables: Iterable[str]) -> Step:
    """The first step, ``wait-for-nald``, of a job that reads these NALD tables.

    One attempt waits at most SLICE_S, then the step is retried and the wait goes on: every attempt
    ends well before RabbitMQ's 30-minute consumer timeout, whatever ``WRLS_NALD_WAIT_S`` says.
    """
    read = tuple(tables)

    def wait_for_nald(ctx: StepContext) -> None:
        try:
            timeout_s = config().nald_wait_s
        except ConfigurationError as e:
            raise PermanentError(str(e)) from None
        wait_for_nald_swap(ctx, timeout_s, tables=read)

    return Step(
        "wait-for-nald",
        wait_for_nald,
        time_limit=timedelta(seconds=SLICE_S + 5 * 60),
        max_retries=WAIT_RETRIES,
        max_backoff=timedelta(minutes=1),
    )
