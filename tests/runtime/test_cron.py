"""When schedules fire: pure functions, tested from tables."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from wrls_actors.runtime import Schedule, ScheduleError
from wrls_actors.runtime.cron import (
    MINUTE,
    fire_times,
    fixed_hour,
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


def minute_walk(schedule: Schedule, start: datetime, end: datetime, tz: ZoneInfo) -> list[datetime]:
    """fire_times as it was: every UTC minute of the window looked at in turn. The reference the fast walk must match."""
    spec, fixed = parse_cron(schedule.cron), fixed_hour(schedule.cron)
    times = []
    moment = start.astimezone(UTC).replace(second=0, microsecond=0) + MINUTE
    previous_wall = (moment - MINUTE).astimezone(tz).replace(tzinfo=None)
    while moment <= end.astimezone(UTC):
        local = moment.astimezone(tz)
        wall = local.replace(tzinfo=None)
        skipped = wall - previous_wall > MINUTE
        fires = False if local.fold == 1 and fixed else spec.validate(wall)
        if not fires and skipped:
            gap = previous_wall + MINUTE
            while gap < wall and not fires:
                fires = spec.validate(gap)
                gap += MINUTE
        if fires:
            times.append(moment)
        previous_wall = wall
        moment += MINUTE
    return times


ZONES = [ZoneInfo(name) for name in ("Europe/London", "UTC", "America/New_York", "Australia/Lord_Howe")]


def offset_changes(tz: ZoneInfo) -> list[datetime]:
    """Midnight UTC of each day whose next midnight has another UTC offset, in a few recent years and a few old ones."""
    days = [
        datetime(year, 1, 1, tzinfo=UTC) + timedelta(days=n)
        for year in (1847, 1883, 1941, 2024, 2026)
        for n in range(366)
    ]
    return [
        day for day in days if day.astimezone(tz).utcoffset() != (day + timedelta(days=1)).astimezone(tz).utcoffset()
    ]


CHANGES = {tz.key: offset_changes(tz) for tz in ZONES}


def cron_field(low: int, high: int) -> st.SearchStrategy[str]:
    value = st.integers(low, high)
    return st.one_of(
        st.just("*"),
        st.integers(2, 17).map(lambda step: f"*/{step}"),
        value.map(str),
        st.lists(value, min_size=2, max_size=4).map(lambda values: ",".join(map(str, values))),
        st.tuples(value, value).map(lambda ends: f"{min(ends)}-{max(ends)}"),
        st.tuples(value, value, st.integers(2, 5)).map(lambda e: f"{min(e[:2])}-{max(e[:2])}/{e[2]}"),
    )


def parses(expression: str) -> bool:
    try:
        parse_cron(expression)
    except ScheduleError:
        return False
    return True


CRONS = st.one_of(
    st.tuples(
        cron_field(0, 59),
        cron_field(0, 23),
        st.one_of(st.just("*"), cron_field(1, 31)),
        st.one_of(st.just("*"), cron_field(1, 12)),
        st.one_of(st.just("*"), cron_field(1, 7)),
    ).map(" ".join),
    st.sampled_from(["@hourly", "@daily", "@monthly", "@yearly", "0 1 * * *", "30 1 * * *", "0 2 * * *"]),
).filter(parses)


@st.composite
def windows(draw: st.DrawFn) -> tuple[ZoneInfo, datetime, datetime]:
    """A zone and a window of up to four days, most of them around a clock change (none in UTC: anywhere)."""
    tz = draw(st.sampled_from(ZONES))
    changes = CHANGES[tz.key]
    if changes and draw(st.booleans()):
        around = draw(st.sampled_from(changes)) + timedelta(minutes=draw(st.integers(-3 * 1440, 2 * 1440)))
    else:
        around = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 10 * 366 * 1440)))
    start = around + timedelta(microseconds=draw(st.integers(0, 60_000_000 - 1)))
    minutes = draw(st.integers(0, 4 * 1440) | st.integers(2 * 1440, 4 * 1440))  # days long often: stretches cut daily
    return tz, start, start + timedelta(minutes=minutes, seconds=draw(st.integers(0, 59)))


HOWE = ZoneInfo("Australia/Lord_Howe")


@settings(max_examples=300, deadline=None)
@given(cron=CRONS, window=windows())
# The minute before the spring gap matches: it must not fire again after the gap.
@example("59 0 * * *", (LONDON, local(2024, 3, 30, 12), local(2024, 4, 1, 12)))
@example("59 1 * * *", (HOWE, datetime(2024, 10, 5, 12, tzinfo=HOWE), datetime(2024, 10, 6, 12, tzinfo=HOWE)))
# The last minute before clocks go back, then the repeated hour.
@example("59 1 * * *", (LONDON, local(2024, 10, 26, 12), local(2024, 10, 28, 12)))
@example("*/15 1 * * *", (HOWE, datetime(2025, 4, 5, 12, tzinfo=HOWE), datetime(2025, 4, 6, 12, tzinfo=HOWE)))
def test_fire_times_skip_only_minutes_the_minute_walk_would_not_fire(cron, window):
    tz, start, end = window
    schedule = Schedule("x", cron=cron)
    assert fire_times(schedule, start, end, tz) == minute_walk(schedule, start, end, tz)


@pytest.mark.parametrize(
    "zone, cron, start, end, expected",
    [
        # Lord Howe Island goes forward half an hour (02:00 to 02:30) and back half an hour (02:00 to 01:30).
        ("Australia/Lord_Howe", "15 2 * * *", (2024, 10, 5, 12), (2024, 10, 7), ["2024-10-06 02:30 +11"]),
        ("Australia/Lord_Howe", "45 1 * * *", (2025, 4, 5, 12), (2025, 4, 7), ["2025-04-06 01:45 +11"]),
        (
            "Australia/Lord_Howe",
            "*/20 1 * * *",
            (2025, 4, 5, 12),
            (2025, 4, 6, 12),
            ["2025-04-06 01:00 +11", "2025-04-06 01:20 +11", "2025-04-06 01:40 +11"],
        ),
        # Seldom expressions: years without a minute that matches are skipped, a day at a time.
        ("Europe/London", "0 0 29 2 *", (2023, 1, 1), (2029, 1, 1), ["2024-02-29 00:00 GMT", "2028-02-29 00:00 GMT"]),
        ("America/New_York", "@yearly", (2024, 6, 1), (2026, 6, 1), ["2025-01-01 00:00 EST", "2026-01-01 00:00 EST"]),
        # Thirteenth of the month or a Friday: periodiq's either-or when both are restricted.
        (
            "UTC",
            "0 12 13 * 5",
            (2024, 9, 9),
            (2024, 9, 21),
            ["2024-09-13 12:00 UTC", "2024-09-20 12:00 UTC"],
        ),
    ],
)
def test_fire_times_in_other_zones_and_seldom_expressions(zone, cron, start, end, expected):
    tz = ZoneInfo(zone)
    fired = fire_times(Schedule("x", cron=cron), datetime(*start, tzinfo=tz), datetime(*end, tzinfo=tz), tz)
    assert [t.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") for t in fired] == expected
