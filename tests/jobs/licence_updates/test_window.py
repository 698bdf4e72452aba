"""licence-updates' window: from London's midnight two calendar months before today."""

from __future__ import annotations

from datetime import UTC, date, datetime

from wrls_actors.jobs.licence_updates.add_workflows import window_start

UTC = UTC


def test_the_window_starts_at_london_midnight_two_calendar_months_back():
    assert window_start(date(2026, 5, 31)) == datetime(2026, 3, 30, 23, 0, tzinfo=UTC)  # 31 March, BST
    assert window_start(date(2026, 4, 30)) == datetime(2026, 2, 28, 0, 0, tzinfo=UTC)  # no 30 February; GMT
    assert window_start(date(2026, 1, 15)) == datetime(2025, 11, 15, 0, 0, tzinfo=UTC)
