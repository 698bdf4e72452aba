"""``wrls-actors tracker --dry-run``: the report a run started now would send.

Reads the ledger only: nothing is sent, nothing recorded, so the next real
report still covers the same window.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from ...config import Config
from ...runtime import LedgerView
from .gather import gather, window_ending
from .report import build_report, london_time, reference


def preview(engine: Engine, cfg: Config, now: datetime | None = None) -> str:
    end = now or datetime.now(UTC)
    ledger = LedgerView(engine)
    window = window_ending(ledger, end)
    problems = gather(ledger, window)
    since = london_time(window.start)
    start = (
        "the previous report"
        if window.previous
        else f"no previous report: the last {(window.end - window.start).days} days"
    )
    lines = [f"tracker dry run (nothing sent, nothing recorded): since {since} ({start}) until {london_time(end)}"]
    content = build_report(problems, cfg.environment, window)
    if content is None:
        lines.append(f"nothing to report since {since}: no email would be sent")
        return "\n".join(lines)
    lines += [
        f"to: {cfg.tracker_recipient or '(WRLS_TRACKER_RECIPIENT is not set)'}",
        f"template: {cfg.tracker_template_id}",
        f"reference: {reference(cfg.environment, window)}",
        "personalisation content:",
        "",
        content,
    ]
    return "\n".join(lines)
