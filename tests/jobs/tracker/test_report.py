"""The tracker's report from plain rows: text, order, UK times, window and reference."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from wrls_actors.jobs.tracker.report import (
    FIRST_WINDOW,
    Problem,
    Window,
    build_report,
    london_time,
    reference,
    report_window,
    summary,
)

UTC = UTC
WINDOW = Window(datetime(2024, 1, 12, 10, 0, tzinfo=UTC), datetime(2024, 1, 15, 10, 0, tzinfo=UTC), previous=True)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_nothing_to_report_is_none():
    assert build_report([], "prd", WINDOW) is None
    assert build_report([Problem("nald-import", "failed", 0, at(2024, 1, 13), at(2024, 1, 13))], "prd", WINDOW) is None


def test_problems_are_grouped_by_job_with_counts_and_first_and_last_uk_times():
    rows = [
        Problem("tracker", "tick-late", 1, at(2024, 1, 14, 10, 1, 5), at(2024, 1, 14, 10, 1, 5)),
        Problem("nald-import", "run-completed-with-failures", 1, at(2024, 1, 13, 2), at(2024, 1, 13, 2)),
        Problem("nald-import", "failed", 3, at(2024, 1, 13, 1, 12, 3), at(2024, 1, 13, 1, 40, 10)),
        Problem(None, "rejected", 2, at(2024, 1, 12, 23, 59, 59), at(2024, 1, 15, 9, 59, 59)),
        Problem("nald-import", "stalled", 1, at(2024, 1, 13, 1, 20), at(2024, 1, 13, 1, 20)),
    ]
    assert build_report(rows, "prd", WINDOW) == (
        "There are 8 problems with jobs in the prd environment since 12 Jan 2024 10:00:00.\n"
        "\n"
        "Job name: nald-import\n"
        "Runs completed with failures: 1, first 13 Jan 2024 02:00:00, last 13 Jan 2024 02:00:00\n"
        "Failed steps: 3, first 13 Jan 2024 01:12:03, last 13 Jan 2024 01:40:10\n"
        "Stalled steps: 1, first 13 Jan 2024 01:20:00, last 13 Jan 2024 01:20:00\n"
        "\n"
        "Job name: tracker\n"
        "Late ticks: 1, first 14 Jan 2024 10:01:05, last 14 Jan 2024 10:01:05\n"
        "\n"
        "Job name: (no job)\n"
        "Rejected messages (unreadable): 2, first 12 Jan 2024 23:59:59, last 15 Jan 2024 09:59:59"
    )
    assert summary(rows) == (8, 3)


def test_one_problem_is_singular_and_summer_times_are_british_summer_time():
    rows = [Problem("nald-import", "tick-missed", 1, at(2024, 7, 1, 0, 30), at(2024, 7, 1, 0, 30))]
    window = Window(at(2024, 6, 28, 9), at(2024, 7, 1, 9), previous=True)
    assert build_report(rows, "tst", window) == (
        "There is 1 problem with jobs in the tst environment since 28 Jun 2024 10:00:00.\n"
        "\n"
        "Job name: nald-import\n"
        "Missed ticks: 1, first 01 Jul 2024 01:30:00, last 01 Jul 2024 01:30:00"
    )


def test_a_kind_the_report_does_not_know_is_named_as_it_is_after_the_known_ones():
    rows = [
        Problem("x", "something-new", 2, at(2024, 1, 13), at(2024, 1, 14)),
        Problem("x", "tick-duplicate", 1, at(2024, 1, 13), at(2024, 1, 13)),
    ]
    lines = build_report(rows, "dev", WINDOW).splitlines()
    assert lines[3:] == [
        "Duplicate ticks: 1, first 13 Jan 2024 00:00:00, last 13 Jan 2024 00:00:00",
        "something-new: 2, first 13 Jan 2024 00:00:00, last 14 Jan 2024 00:00:00",
    ]


def test_uk_time_format_and_a_time_without_zone_is_refused():
    assert london_time(at(2024, 3, 31, 0, 59, 59)) == "31 Mar 2024 00:59:59"
    assert london_time(at(2024, 3, 31, 1, 0, 0)) == "31 Mar 2024 02:00:00"  # clocks go forward
    assert london_time(at(2024, 10, 27, 0, 30)) == "27 Oct 2024 01:30:00"
    assert london_time(at(2024, 10, 27, 1, 30)) == "27 Oct 2024 01:30:00"  # the repeated hour
    with pytest.raises(ValueError, match="without a time zone"):
        london_time(datetime(2024, 1, 1))


def test_the_window_starts_at_the_previous_report_or_three_days_back():
    end = at(2024, 1, 15, 10)
    assert report_window(end, at(2024, 1, 12, 10, 0, 1)) == Window(at(2024, 1, 12, 10, 0, 1), end, previous=True)
    first = report_window(end, None)
    assert first == Window(end - FIRST_WINDOW, end, previous=False) and first.start == at(2024, 1, 12, 10)


def test_the_reference_is_the_same_for_the_same_window_and_differs_otherwise():
    same = Window(WINDOW.start.astimezone(timezone(timedelta(hours=1))), WINDOW.end, previous=True)
    assert (
        reference("prd", WINDOW)
        == reference("prd", same)
        == "wrls-tracker:prd:20240112T100000.000000Z-20240115T100000.000000Z"
    )
    assert reference("prd", Window(WINDOW.start, WINDOW.end + timedelta(microseconds=1), True)) != reference(
        "prd", WINDOW
    )
    assert reference("tst", WINDOW) != reference("prd", WINDOW)
