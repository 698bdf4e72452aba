"""WRLS's days are London's: the hour between midnight in London and midnight UTC belongs to the next day in
summer (BST), and to the same day in winter (GMT)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from wrls_actors.jobs.shared import london

UTC = UTC


@pytest.mark.parametrize(
    "instant, day",
    [
        (datetime(2026, 7, 1, 22, 59, 59, tzinfo=UTC), date(2026, 7, 1)),  # 23:59:59 BST
        (datetime(2026, 7, 1, 23, 0, tzinfo=UTC), date(2026, 7, 2)),  # 00:00 BST: UTC is still on the 1st
        (datetime(2026, 7, 1, 23, 30, tzinfo=UTC), date(2026, 7, 2)),
        (datetime(2026, 12, 1, 23, 30, tzinfo=UTC), date(2026, 12, 1)),  # 23:30 GMT
        (datetime(2026, 12, 2, 0, 0, tzinfo=UTC), date(2026, 12, 2)),
        (datetime(2026, 3, 28, 23, 30, tzinfo=UTC), date(2026, 3, 28)),  # the night the clocks go forward
        (datetime(2026, 3, 29, 23, 30, tzinfo=UTC), date(2026, 3, 30)),  # the first night of BST
        (datetime(2026, 10, 24, 23, 30, tzinfo=UTC), date(2026, 10, 25)),  # the last night of BST
        (datetime(2026, 10, 25, 23, 30, tzinfo=UTC), date(2026, 10, 25)),
        (datetime(2026, 7, 2, 1, 30, tzinfo=timezone(timedelta(hours=2))), date(2026, 7, 2)),  # any zone given
    ],
)
def test_today_is_the_london_day_of_the_instant(instant, day):
    assert london.today(instant) == day


def test_an_instant_without_its_zone_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        london.today(datetime(2026, 7, 1, 23, 30))


def test_midnight_is_london_midnight_in_bst_and_gmt():
    assert london.midnight(date(2026, 7, 2)) == datetime(2026, 7, 1, 23, 0, tzinfo=UTC)
    assert london.midnight(date(2026, 12, 2)) == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "day, months, before",
    [
        (date(2026, 5, 31), 2, date(2026, 3, 31)),
        (date(2026, 4, 30), 2, date(2026, 2, 28)),  # February is shorter: its last day
        (date(2024, 4, 30), 2, date(2024, 2, 29)),
        (date(2026, 1, 15), 2, date(2025, 11, 15)),  # across the new year
        (date(2026, 2, 28), 2, date(2025, 12, 28)),
        (date(2026, 3, 1), 0, date(2026, 3, 1)),
    ],
)
def test_months_before_is_calendar_months(day, months, before):
    assert london.months_before(day, months) == before
