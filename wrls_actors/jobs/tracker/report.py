"""The tracker's report, built from plain rows (no I/O).

The legacy (``src/modules/core/jobs/import-tracker.js`` and
``src/lib/connectors/water-import/jobs.js`` of water-abstraction-import)
counted only pg-boss jobs in state ``failed`` over a fixed 12 hours, so a
weekend's failures were never reported on Monday. Here every kind of trouble
the ledger records is counted, over the time since the previous report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from ..shared.london import LONDON

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# The kinds of jobs.events worth an email, in the order a reader takes them in,
# with how the email names them. Left out: `retrying` and `redelivered` (a
# retry that later succeeded went well in the end; one that did not is also
# `failed`, `timed-out`, `stalled` or `dead-lettered`) and `start-refused` (a
# start asked for while the job was running: nothing went wrong).
KINDS: dict[str, str] = {
    "run-failed": "Failed runs",
    "run-completed-with-failures": "Runs completed with failures",
    # Apart from failed: someone stopped it on purpose, and the email says so.
    "run-cancelled": "Cancelled runs (by an operator)",
    "failed": "Failed steps",
    "timed-out": "Timed-out steps",
    "stalled": "Stalled steps",
    "dead-lettered": "Dead-lettered messages",
    "skipped": "Skipped messages (too old)",
    "rejected": "Rejected messages (unreadable)",
    "tick-missed": "Missed ticks",
    "tick-late": "Late ticks",
    "tick-duplicate": "Duplicate ticks",  # no longer written (copies are suppressed); older ledgers have them
    "tick-double-start": "Ticks refused a second start",
    "tick-unexpected": "Ticks at a time their schedule does not fire",
}

NO_JOB = "(no job)"

# The first report has no previous one to start from: three days cover the
# longest gap between two scheduled reports (Friday 10:00 to Monday 10:00).
FIRST_WINDOW = timedelta(days=3)


@dataclasses.dataclass(frozen=True)
class Problem:
    """One kind of trouble of one job over the window: how often, first and last time."""

    job: str | None
    kind: str
    count: int
    first: datetime
    last: datetime


@dataclasses.dataclass(frozen=True)
class Window:
    """What a report covers: ``start`` (inclusive) to ``end`` (exclusive).

    ``previous`` is False when there was no earlier report to start from.
    """

    start: datetime
    end: datetime
    previous: bool


def report_window(end: datetime, last_report: datetime | None) -> Window:
    """From the start of the previous successful report (or FIRST_WINDOW back) to ``end``.

    Each report starts where the previous one ended, so nothing between two
    reports is left out, however long the gap (a weekend, a failed report).
    """
    if last_report is None:
        return Window(end - FIRST_WINDOW, end, previous=False)
    return Window(min(last_report, end), end, previous=True)


def london_time(moment: datetime) -> str:
    """``DD MMM YYYY HH:mm:ss`` in UK time, the legacy's format (English month names whatever the locale)."""
    if moment.tzinfo is None:
        raise ValueError(f"a time without a time zone: {moment.isoformat()}")
    local = moment.astimezone(LONDON)
    return f"{local.day:02d} {MONTHS[local.month - 1]} {local.year} {local:%H:%M:%S}"


def reference(environment: str, window: Window) -> str:
    """Notify's ``reference`` for the report of this window: the same on every retry of it.

    A retry looks it up before sending, so an email Notify accepted just
    before the step failed is not sent twice.
    """

    def utc(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")

    return f"wrls-tracker:{environment}:{utc(window.start)}-{utc(window.end)}"


def build_report(problems: Iterable[Problem], environment: str, window: Window) -> str | None:
    """The email's text, or None when nothing went wrong.

    One paragraph per job (alphabetical, messages of no job last), one line
    per kind of trouble with its count and its first and last time.
    """
    rows = [p for p in problems if p.count > 0]
    if not rows:
        return None
    order = {kind: i for i, kind in enumerate(KINDS)}
    by_job: dict[str, list[Problem]] = {}
    for row in rows:
        by_job.setdefault(row.job or NO_JOB, []).append(row)
    total = sum(p.count for p in rows)
    heading = "There is 1 problem" if total == 1 else f"There are {total} problems"
    lines = [f"{heading} with jobs in the {environment} environment since {london_time(window.start)}.", ""]
    for job in sorted(by_job, key=lambda name: (name == NO_JOB, name)):
        lines.append(f"Job name: {job}")
        for p in sorted(by_job[job], key=lambda p: (order.get(p.kind, len(order)), p.kind)):
            lines.append(
                f"{KINDS.get(p.kind, p.kind)}: {p.count}, first {london_time(p.first)}, last {london_time(p.last)}"
            )
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def summary(problems: Iterable[Problem]) -> tuple[int, int]:
    """How many problems, in how many jobs."""
    rows = [p for p in problems if p.count > 0]
    return sum(p.count for p in rows), len({p.job for p in rows})
