"""When schedules fire: pure functions, tested from tables."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from wrls_actors.runtime import Schedule, ScheduleError
from wrls_actors.runtime.cron import (
    fire_times,
    is_expected,
    parse_cron,
    parse_interval,
    repeated_wall_time,
    shifted_times,
)

LONDON = ZoneInfo("Europe/London")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def times(schedule: Schedule, start: datetime, end: datetime) -> list[str]:
    return [t.astimezone(LONDON).strftime("%a %d %H:%M:%S %Z") for t in fire_times(schedule, start, end, LONDON)]


@pytest.mark.parametrize(
    "expression, message",
    [
        ("0 0 * * 0", "write Sunday as 7"),
        ("0 0 * * sun", "write Sunday as 7"),
        ("0 0 * * 0-6", "write Sunday as 7"),
        ("@weekly", "Sunday 0"),
        ("*/10 * * * * *", "5 fields"),
        ("0 0 1 jan *", "months as numbers"),
        ("61 * * * *", "minute out of range"),
        ("0 25 * * *", "hour out of range"),
        ("banana", "5 fields"),
    ],
)
def test_expressions_periodiq_gets_wrong_are_refused_with_a_reason(expression, message):
    with pytest.raises(ScheduleError, match=message):
        parse_cron(expression)


def test_sunday_written_7_fires_on_sundays():
    schedule = Schedule("x", cron="30 9 * * 7")
    assert times(schedule, local(2024, 1, 1), local(2024, 1, 22)) == [
        "Sun 07 09:30:00 GMT",
        "Sun 14 09:30:00 GMT",
        "Sun 21 09:30:00 GMT",
    ]


def test_weekdays_only():
    schedule = Schedule("x", cron="0 4 * * 1-5")
    assert times(schedule, local(2024, 1, 12, 12), local(2024, 1, 16, 12)) == [
        "Mon 15 04:00:00 GMT",
        "Tue 16 04:00:00 GMT",
    ]


def test_intervals_are_aligned_to_the_clock_not_to_the_start():
    schedule = Schedule("x", every=timedelta(seconds=15))
    start = datetime(2024, 1, 15, 10, 0, 7, tzinfo=UTC)
    assert times(schedule, start, start + timedelta(minutes=1)) == [
        "Mon 15 10:00:15 GMT",
        "Mon 15 10:00:30 GMT",
        "Mon 15 10:00:45 GMT",
        "Mon 15 10:01:00 GMT",
    ]


def test_a_fixed_time_inside_the_hour_skipped_in_spring_fires_right_after_the_gap():
    # 2024-03-31: clocks go from 01:00 GMT to 02:00 BST.
    schedule = Schedule("nald", cron="0 1 * * *")
    assert times(schedule, local(2024, 3, 30, 12), local(2024, 4, 1, 12)) == [
        "Sun 31 02:00:00 BST",
        "Mon 01 01:00:00 BST",
    ]


def test_a_fixed_time_inside_the_hour_repeated_in_autumn_fires_once():
    # 2024-10-27: clocks go from 02:00 BST back to 01:00 GMT; 01:30 happens twice.
    schedule = Schedule("x", cron="30 1 * * *")
    fired = fire_times(schedule, local(2024, 10, 26, 12), local(2024, 10, 27, 12), LONDON)
    assert [t.astimezone(LONDON).strftime("%d %H:%M %Z") for t in fired] == ["27 01:30 BST"]
    repeat = fired[0] + timedelta(hours=1)
    assert repeat.astimezone(LONDON).strftime("%H:%M %Z") == "01:30 GMT"
    assert not is_expected(schedule, repeat, LONDON)


def test_an_hourly_schedule_fires_in_both_repeated_hours():
    schedule = Schedule("x", cron="0 * * * *")
    assert times(schedule, local(2024, 10, 27, 0, 30), local(2024, 10, 27, 2, 30)) == [
        "Sun 27 01:00:00 BST",
        "Sun 27 01:00:00 GMT",
        "Sun 27 02:00:00 GMT",
    ]


@pytest.mark.parametrize("text, seconds", [("every 15s", 15), ("every 1 m", 60), ("every 5min", 300)])
def test_intervals_parse(text, seconds):
    assert parse_interval(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["every 7s", "every 0s", "each 15s", "15s"])
def test_bad_intervals_are_refused(text):
    with pytest.raises(ScheduleError):
        parse_interval(text)


@pytest.mark.parametrize(
    "cron, start, end, expected",
    [
        # 2024-03-31: 01:00 GMT becomes 02:00 BST. A 01:xx time is sent by us at 02:00, right after the gap.
        ("0 1 * * *", local(2024, 3, 30, 12), local(2024, 4, 1, 12), ["Sun 31 02:00:00 BST"]),
        ("30 1 * * *", local(2024, 3, 30, 12), local(2024, 4, 1, 12), ["Sun 31 02:00:00 BST"]),
        ("0 1 * * 1-5", local(2024, 3, 30, 12), local(2024, 4, 1, 12), []),  # not a Sunday job: nothing to send
        # periodiq sends these itself: their wall time matches.
        ("0 * * * *", local(2024, 3, 30, 12), local(2024, 4, 1, 12), []),
        ("0 2 * * *", local(2024, 3, 30, 12), local(2024, 4, 1, 12), []),
        ("0 1 * * *", local(2024, 10, 26, 12), local(2024, 10, 28, 12), []),  # autumn: nothing skipped
        ("0 1 * * *", local(2024, 1, 14, 12), local(2024, 1, 16, 12), []),
    ],
)
def test_the_scheduler_sends_only_the_times_the_spring_gap_moved(cron, start, end, expected):
    shifted = shifted_times(Schedule("x", cron=cron), start, end, LONDON)
    assert [t.astimezone(LONDON).strftime("%a %d %H:%M:%S %Z") for t in shifted] == expected
    # ...and each of them is one of the schedule's fire times, so the handler takes it as a tick.
    assert all(is_expected(Schedule("x", cron=cron), t, LONDON) for t in shifted)


def test_intervals_have_no_shifted_times():
    schedule = Schedule("x", every=timedelta(seconds=15))
    assert shifted_times(schedule, local(2024, 3, 31, 0, 59), local(2024, 3, 31, 2, 1), LONDON) == []


@pytest.mark.parametrize(
    "moment, repeated",
    [
        (datetime(2024, 10, 27, 0, 0, tzinfo=UTC), True),  # 01:00 BST
        (datetime(2024, 10, 27, 1, 0, tzinfo=UTC), True),  # 01:00 GMT
        (datetime(2024, 10, 27, 1, 59, tzinfo=UTC), True),  # 01:59 GMT
        (datetime(2024, 10, 27, 2, 0, tzinfo=UTC), False),  # 02:00 GMT
        (datetime(2024, 10, 26, 23, 59, tzinfo=UTC), False),  # 00:59 BST
        (datetime(2024, 3, 31, 1, 0, tzinfo=UTC), False),  # 02:00 BST, after the spring gap
    ],
)
def test_the_repeated_wall_clock_hour_is_recognised(moment, repeated):
    assert repeated_wall_time(moment, LONDON) is repeated
