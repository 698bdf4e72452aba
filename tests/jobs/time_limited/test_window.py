"""time-limited's window, in London days: an end date 49 days ahead is due, 50 days ahead is not."""

from __future__ import annotations

from datetime import UTC, date, datetime

from wrls_actors.jobs.shared import london
from wrls_actors.jobs.time_limited.add_workflows import window_end


def test_the_window_ends_50_days_after_today_exclusive():
    end = window_end(date(2026, 7, 2))
    assert end == date(2026, 8, 21)
    assert date(2026, 8, 20) < end  # 49 days ahead: in
    assert not date(2026, 8, 21) < end  # 50 days ahead: out


def test_just_after_london_midnight_in_summer_the_window_is_the_next_days():
    """23:30 UTC on 1 July is 00:30 BST on 2 July: the UTC day (the legacy's) would be a day short."""
    assert window_end(london.today(datetime(2026, 7, 1, 23, 30, tzinfo=UTC))) == date(2026, 8, 21)
    assert window_end(london.today(datetime(2026, 12, 1, 23, 30, tzinfo=UTC))) == date(2027, 1, 20)
