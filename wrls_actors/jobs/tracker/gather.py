"""What the tracker reads from the ledger: its window, and the troubles in it.

The legacy read pg-boss's ``job`` and ``archive`` tables for rows in state
``failed`` created or completed in the last 12 hours
(``src/lib/connectors/water-import/queries.js``, ``pgBossFailedJobs``). The
ledger's ``jobs.events`` holds every failure, time-out, stall, dead letter and
late, missed or duplicate tick with its time, so one grouped query over the
window answers it.
"""

from __future__ import annotations

from datetime import datetime

from ...runtime import LedgerView
from .report import KINDS, Problem, Window, report_window

JOB = "tracker"


def last_report(ledger: LedgerView, before: datetime) -> datetime | None:
    """When the latest successful tracker run before ``before`` started: where the next window begins.

    A run succeeds only once Notify accepted its email (or there was nothing
    to send), so a failed report leaves its window to the next one.
    """
    return ledger.last_started(JOB, before, status="succeeded")


def window_ending(ledger: LedgerView, end: datetime) -> Window:
    return report_window(end, last_report(ledger, end))


def gather(ledger: LedgerView, window: Window) -> list[Problem]:
    return [
        Problem(e.job, e.kind, e.count, e.first, e.last) for e in ledger.event_counts(window.start, window.end, KINDS)
    ]
