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
``slice_s`` (20 minutes), then raises :class:`StillWaiting`, a Dramatiq
``Retry``: the step is retried ``poll_s`` later and the wait goes on from where
the run's clock is. Each slice shows in the ledger as one retry of the step. A
step using this needs ``max_retries`` of at least :data:`WAIT_RETRIES` and a
time limit above ``slice_s``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dramatiq
from sqlalchemy import Connection, text

from ...config import NALD_WAIT_MAX_S, config
from ...model.nald import S as IMPORT_SCHEMA
from ...runtime import ConfigurationError, PermanentError, Settings, Step, StepContext
from ...runtime.cron import is_expected
from ...runtime.service import apply_overrides
from ...schedules import SCHEDULES
from .queue_licences import missing_tables

NALD_JOB = "nald-import"

#: Longest wait within one step attempt: well below RabbitMQ's 30-minute consumer timeout.
SLICE_S = 20 * 60

#: Retries a waiting step needs to reach the longest allowed bound, plus a few for transient errors.
WAIT_RETRIES = math.ceil(NALD_WAIT_MAX_S / SLICE_S) + 3


class StillWaiting(dramatiq.Retry):
    """This attempt has waited its slice; the step is retried and the wait goes on."""


OUR_RUN = text("""
    SELECT nominal_time, extract(epoch FROM clock_timestamp() - started_at) AS elapsed
    FROM jobs.runs WHERE run_id = CAST(:run AS uuid)
""")

# The tick is read before the runs: the scheduler inserts a tick and its run in one
# transaction, so a tick seen claimed has its run visible to the next statement.
TICK_CLAIMED = text("SELECT 1 FROM jobs.ticks WHERE schedule = :job AND nominal_time = :nominal")

LOADING = text("""
    SELECT run_id::text AS run_id, started_at FROM jobs.runs
    WHERE job = :job AND status = 'running' AND step_index = 0
    ORDER BY started_at LIMIT 1
""")

RUN_STATE = text("SELECT status, step_index FROM jobs.runs WHERE run_id = CAST(:run AS uuid)")


def nald_tick_due(nominal: datetime | None, env=None) -> bool:
    """Whether nald-import's schedule (with its ``WRLS_SCHEDULE_NALD_IMPORT`` override) fires at ``nominal``."""
    if nominal is None:
        return False
    settings = Settings.from_env("WRLS", env)
    schedules = {s.job: s for s in apply_overrides(SCHEDULES, settings.schedule_overrides, settings.prefix)}
    schedule = schedules.get(NALD_JOB)
    return schedule is not None and schedule.enabled and is_expected(schedule, nominal, ZoneInfo(settings.timezone))


@dataclasses.dataclass(frozen=True)
class Blocker:
    """What a reader of ``import`` waits for: a NALD run still loading, or its tick not yet claimed."""

    what: str
    run_id: str | None = None


def blocker(connection: Connection, tick: datetime | None) -> Blocker | None:
    """What the reader waits for, or ``None`` when ``import`` may be read.

    ``tick``: the nominal time of a nald-import tick due together with the reader's.
    """
    if tick is not None and connection.execute(TICK_CLAIMED, {"job": NALD_JOB, "nominal": tick}).first() is None:
        return Blocker(f"{NALD_JOB}'s tick of {tick.isoformat()} (not started yet)")
    loading = connection.execute(LOADING, {"job": NALD_JOB}).first()
    if loading is not None:
        return Blocker(f"{NALD_JOB} run {loading.run_id} (loading the NALD extract since "
                       f"{loading.started_at.isoformat()})", loading.run_id)
    return None


def wait_for_nald_swap(ctx: StepContext, timeout_s: float, poll_s: float = 5, *,
                       tables: Iterable[str] | None = None, slice_s: float = SLICE_S) -> int:
    """Wait until no NALD import is loading ``import``, then check it holds ``tables``.

    Returns the seconds waited, counted from the run's start and rounded up (0
    when nothing had to be waited for; an attempt after a retry always counts
    from the run's start, since an earlier one may have waited), after adding
    them to the run's count
    ``waited_for_nald_s`` and logging them. Raises :class:`PermanentError` when
    ``timeout_s`` has passed with NALD still loading, or when ``import`` lacks
    one of ``tables`` (default: every table of ``model/nald.py``), and
    :class:`StillWaiting` when this attempt has waited ``slice_s``.
    """
    began = time.monotonic()
    waited_here = False
    awaited: Blocker | None = None
    tick_due: bool | None = None
    while True:
        with ctx.engine.connect() as connection:
            ours = connection.execute(OUR_RUN, {"run": str(ctx.run_id)}).one()
            if tick_due is None:
                tick_due = nald_tick_due(ours.nominal_time)
            waiting_for = blocker(connection, ours.nominal_time if tick_due else None)
        if waiting_for is None:
            break
        if waiting_for != awaited:
            ctx.logger.info("waiting for %s before reading %s (at most %ds from this run's start)",
                            waiting_for.what, IMPORT_SCHEMA, timeout_s)
            awaited = waiting_for
        waited_here = True
        elapsed = float(ours.elapsed)
        if elapsed >= timeout_s:
            raise PermanentError(
                f"{IMPORT_SCHEMA} not read: still waiting for {waiting_for.what} after {elapsed:.0f}s, "
                f"the limit being {timeout_s:.0f}s (WRLS_NALD_WAIT_S); nothing was written")
        left_in_slice = slice_s - (time.monotonic() - began)
        if left_in_slice <= 0:
            raise StillWaiting(f"still waiting for {waiting_for.what} after {elapsed:.0f}s; "
                               "the wait goes on in a retry", delay=int(poll_s * 1000))
        time.sleep(max(0.05, min(poll_s, timeout_s - elapsed, left_in_slice)))

    with ctx.engine.connect() as connection:
        wanted = None if tables is None else set(tables)
        missing = [t for t in missing_tables(connection) if wanted is None or t in wanted]
    if missing:
        raise PermanentError(f"schema {IMPORT_SCHEMA} lacks tables: {', '.join(missing)} "
                             "(a NALD import swaps in only complete extracts: was it changed by hand?)")

    # An earlier attempt of this step may have waited its slice: the run's clock says how long it all took.
    waited = math.ceil(float(ours.elapsed)) if waited_here or ctx.attempt > 1 else 0
    ctx.count("waited_for_nald_s", waited)
    if waited:
        ctx.logger.info("waited %ds for the NALD import%s; reading %s now", waited,
                        _outcome(ctx, awaited), IMPORT_SCHEMA)
    return waited


def _outcome(ctx: StepContext, awaited: Blocker | None) -> str:
    """How the awaited NALD run ended, for the log: a failed one left the previous extract in place."""
    if awaited is None or awaited.run_id is None:
        return ""
    with ctx.engine.connect() as connection:
        row = connection.execute(RUN_STATE, {"run": awaited.run_id}).first()
    if row is None:
        return ""
    if row.status == "failed":
        return f" (run {awaited.run_id} failed: {IMPORT_SCHEMA} still holds the previous extract)"
    return f" (run {awaited.run_id} {row.status}, at step {row.step_index})"


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

    return Step("wait-for-nald", wait_for_nald, time_limit=timedelta(seconds=SLICE_S + 5 * 60),
                max_retries=WAIT_RETRIES, max_backoff=timedelta(minutes=1))
