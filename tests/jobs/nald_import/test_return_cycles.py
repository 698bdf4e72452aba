"""Legacy NALD returns rules (transform-returns*.js, due-date.js), plain data."""

from __future__ import annotations

from datetime import date

import pytest

from wrls_actors.jobs.nald_import.return_cycles import (
    FormLog,
    ReturnCycle,
    ReturnFormat,
    VersionModLog,
    cycle_end,
    cycle_start,
    due_date,
    format_cycles,
    format_end_date,
    format_returns,
    format_start_date,
    is_summer_format,
    overlapping_logs,
    received_date,
    return_cycles,
    return_id,
    return_status,
    succession_split_date,
)

D = date.fromisoformat
TODAY = D("2026-11-29")


def fmt(**kw) -> ReturnFormat:
    row = {
        "ID": "123",
        "FGAC_REGION_CODE": "1",
        "FORM_PRODN_MONTH": "66",
        "EFF_ST_DATE": "01/04/2017",
        "EFF_END_DATE": "null",
        "VERS_NO": "1",
        "AABL_ID": "99",
        "TIMELTD_ST_DATE": "null",
        "TIMELTD_END_DATE": "null",
        "LICENCE_EXPIRY_DATE": "null",
        "LICENCE_REVOKED_DATE": "null",
        "LICENCE_LAPSED_DATE": "null",
    }
    row.update(kw)
    return ReturnFormat.from_nald_row(row)


def log(date_from: str, date_to: str, recd: str = "null") -> FormLog:
    return FormLog.from_nald_row({"DATE_FROM": date_from, "DATE_TO": date_to, "RECD_DATE": recd})


def spans(cycles):
    return [(c.start.isoformat(), c.end.isoformat(), c.is_current) for c in cycles]


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    "month, summer",
    [
        ("65", True),
        ("45", True),
        ("80", True),
        ("66", False),
        ("46", False),
        ("70", False),
        ("null", False),
        (None, False),
        (80, True),
    ],
)
def test_is_summer_format(month, summer):
    assert is_summer_format(month) is summer


@pytest.mark.parametrize(
    "day, summer, start, end",
    [
        ("2019-04-01", False, "2019-04-01", "2020-03-31"),
        ("2019-03-31", False, "2018-04-01", "2019-03-31"),
        ("2019-12-25", False, "2019-04-01", "2020-03-31"),
        ("2019-11-01", True, "2019-11-01", "2020-10-31"),
        ("2019-10-31", True, "2018-11-01", "2019-10-31"),
        ("2019-01-15", True, "2018-11-01", "2019-10-31"),
    ],
)
def test_cycle_start_and_end(day, summer, start, end):
    assert cycle_start(D(day), summer) == D(start)
    assert cycle_end(D(day), summer) == D(end)


# ------------------------------------------------------------------ cycles (legacy getReturnCycles tests)


@pytest.mark.parametrize(
    "start, end, split, summer, expected",
    [
        # single financial year, current / expired version
        ("2014-04-01", "2015-03-31", "2014-04-01", False, [("2014-04-01", "2015-03-31", True)]),
        ("2014-04-01", "2015-03-31", "2016-04-01", False, [("2014-04-01", "2015-03-31", False)]),
        # part financial years
        (
            "2014-06-01",
            "2015-07-01",
            "2010-04-01",
            False,
            [("2014-06-01", "2015-03-31", True), ("2015-04-01", "2015-07-01", True)],
        ),
        # split on a cycle start
        (
            "2014-06-01",
            "2015-07-01",
            "2015-04-01",
            False,
            [("2014-06-01", "2015-03-31", False), ("2015-04-01", "2015-07-01", True)],
        ),
        # split part-way through a cycle
        (
            "2014-06-01",
            "2015-07-01",
            "2015-06-01",
            False,
            [
                ("2014-06-01", "2015-03-31", False),
                ("2015-04-01", "2015-05-31", False),
                ("2015-06-01", "2015-07-01", True),
            ],
        ),
        # no split date: everything current
        (
            "2017-04-01",
            "2019-03-31",
            None,
            False,
            [("2017-04-01", "2018-03-31", True), ("2018-04-01", "2019-03-31", True)],
        ),
        # summer
        ("2014-11-01", "2015-10-31", "2014-11-01", True, [("2014-11-01", "2015-10-31", True)]),
        (
            "2014-06-01",
            "2015-12-01",
            "2010-04-01",
            True,
            [
                ("2014-06-01", "2014-10-31", True),
                ("2014-11-01", "2015-10-31", True),
                ("2015-11-01", "2015-12-01", True),
            ],
        ),
        # summer split
        (
            "2014-11-01",
            "2015-10-31",
            "2015-02-10",
            True,
            [("2014-11-01", "2015-02-09", False), ("2015-02-10", "2015-10-31", True)],
        ),
        # a single day
        ("2015-04-01", "2015-04-01", None, False, [("2015-04-01", "2015-04-01", True)]),
        # pre-1969: we cut every cycle (legacy did not, see docstring)
        (
            "1967-01-01",
            "1968-06-30",
            None,
            False,
            [
                ("1967-01-01", "1967-03-31", True),
                ("1967-04-01", "1968-03-31", True),
                ("1968-04-01", "1968-06-30", True),
            ],
        ),
        # inverted range: nothing
        ("2015-04-01", "2015-03-01", None, False, []),
    ],
)
def test_return_cycles(start, end, split, summer, expected):
    cycles = return_cycles(D(start), D(end), D(split) if split else None, summer)
    assert spans(cycles) == expected


def test_format_start_uses_later_time_limited_start():
    assert format_start_date(fmt(TIMELTD_ST_DATE="01/06/2018")) == D("2018-06-01")
    assert format_start_date(fmt(TIMELTD_ST_DATE="01/06/2010")) == D("2017-04-01")
    assert format_start_date(fmt()) == D("2017-04-01")


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({}, None),
        ({"EFF_END_DATE": "31/03/2020"}, "2020-03-31"),
        ({"EFF_END_DATE": "31/03/2020", "TIMELTD_END_DATE": "30/09/2019"}, "2019-09-30"),
        ({"EFF_END_DATE": "31/03/2020", "LICENCE_EXPIRY_DATE": "15/08/2019"}, "2019-08-15"),
        ({"LICENCE_REVOKED_DATE": "01/01/2019", "LICENCE_LAPSED_DATE": "02/01/2019"}, "2019-01-01"),
        ({"LICENCE_LAPSED_DATE": "10/10/2018"}, "2018-10-10"),
    ],
)
def test_format_end_date_is_earliest(overrides, expected):
    assert format_end_date(fmt(**overrides)) == (D(expected) if expected else None)


def test_format_cycles_financial_clipped_at_start_and_end():
    f = fmt(EFF_ST_DATE="15/06/2017", EFF_END_DATE="10/02/2019")
    assert spans(format_cycles(f, None, TODAY)) == [
        ("2017-06-15", "2018-03-31", True),
        ("2018-04-01", "2019-02-10", True),
    ]


def test_format_cycles_licence_ended_mid_cycle():
    f = fmt(EFF_ST_DATE="01/04/2018", LICENCE_EXPIRY_DATE="30/09/2019")
    assert spans(format_cycles(f, None, TODAY)) == [
        ("2018-04-01", "2019-03-31", True),
        ("2019-04-01", "2019-09-30", True),
    ]


@pytest.mark.parametrize(
    "month, today, last",
    [
        ("66", "2026-11-29", ("2026-04-01", "2027-03-31")),
        ("66", "2027-03-31", ("2026-04-01", "2027-03-31")),
        ("65", "2026-11-29", ("2026-11-01", "2027-10-31")),
        ("65", "2026-10-31", ("2025-11-01", "2026-10-31")),
    ],
)
def test_format_cycles_open_ended_run_to_end_of_current_cycle(month, today, last):
    cycles = format_cycles(fmt(FORM_PRODN_MONTH=month, EFF_ST_DATE="01/04/2024"), None, D(today))
    assert (cycles[-1].start.isoformat(), cycles[-1].end.isoformat()) == last


def test_format_cycles_summer():
    f = fmt(FORM_PRODN_MONTH="80", EFF_ST_DATE="01/04/2018", EFF_END_DATE="31/03/2020")
    assert spans(format_cycles(f, None, TODAY)) == [
        ("2018-04-01", "2018-10-31", True),
        ("2018-11-01", "2019-10-31", True),
        ("2019-11-01", "2020-03-31", True),
    ]


# ------------------------------------------------------------------ succession split


def test_succession_split_date_is_latest_succ_version_start():
    rows = [
        VersionModLog.from_nald_row({"EFF_ST_DATE": "01/05/2015", "AMRE_CODE": "SUCC"}),
        VersionModLog.from_nald_row({"EFF_ST_DATE": "01/07/2018", "AMRE_CODE": "SUCC"}),
        VersionModLog.from_nald_row({"EFF_ST_DATE": "01/01/2020", "AMRE_CODE": "VARF"}),
        VersionModLog.from_nald_row({"EFF_ST_DATE": "null", "AMRE_CODE": "SUCC"}),
    ]
    assert succession_split_date(rows) == D("2018-07-01")


@pytest.mark.parametrize("rows", [[], [VersionModLog(D("2019-01-01"), "VARF")]])
def test_no_succession_no_split(rows):
    assert succession_split_date(rows) is None


def test_succession_split_cuts_the_cycle_and_marks_current():
    f = fmt(EFF_ST_DATE="01/04/2017", EFF_END_DATE="31/03/2020")
    logs = [log("01/04/2017", "31/03/2020", "20/04/2020")]
    returns = format_returns("01/123", f, logs, D("2018-07-01"), TODAY)
    assert [(r.start_date.isoformat(), r.end_date.isoformat(), r.is_current) for r in returns] == [
        ("2017-04-01", "2018-03-31", False),
        ("2018-04-01", "2018-06-30", False),
        ("2018-07-01", "2019-03-31", True),
        ("2019-04-01", "2020-03-31", True),
    ]
    # a split before the format start: not a cut, everything current
    assert all(r.is_current for r in format_returns("01/123", f, logs, D("2010-01-01"), TODAY))


# ------------------------------------------------------------------ form logs, status, received date


@pytest.mark.parametrize(
    "date_from, date_to, overlaps",
    [
        ("01/04/2018", "31/03/2019", True),
        ("01/01/2018", "01/04/2018", True),  # touches the start
        ("31/03/2019", "30/06/2019", True),  # touches the end
        ("01/04/2017", "31/03/2018", False),  # ends the day before
        ("01/04/2019", "31/03/2020", False),  # starts the day after
        ("null", "31/03/2019", False),
        ("01/04/2018", "null", False),
    ],
)
def test_overlapping_logs(date_from, date_to, overlaps):
    entry = log(date_from, date_to)
    assert overlapping_logs([entry], D("2018-04-01"), D("2019-03-31")) == ([entry] if overlaps else [])


@pytest.mark.parametrize(
    "received, expected",
    [
        ([], None),
        (["null"], None),
        (["10/04/2019", "null"], None),
        (["10/04/2019"], "2019-04-10"),
        (["10/04/2019", "02/05/2019 13:45:00", "01/03/2019"], "2019-05-02"),
    ],
)
def test_received_date_latest_or_none(received, expected):
    logs = [log("01/04/2018", "31/03/2019", r) for r in received]
    assert received_date(logs) == (D(expected) if expected else None)
    assert return_status(received_date(logs)) == ("due" if expected is None else "completed")


def test_return_id():
    assert return_id("6", "03/28/60/0032", "1234", D("2019-04-01"), D("2020-03-31")) == (
        "v1:6:03/28/60/0032:1234:2019-04-01:2020-03-31"
    )


def test_returns_only_for_cycles_with_logs_and_status():
    f = fmt(ID="555", FGAC_REGION_CODE="3", EFF_ST_DATE="01/04/2017", EFF_END_DATE="31/03/2020")
    logs = [
        log("01/04/2017", "31/03/2018", "15/04/2018"),
        # 2018-19 has no log: no return
        log("01/04/2019", "30/09/2019", "01/10/2019"),
        log("01/10/2019", "31/03/2020", "null"),
    ]
    returns = format_returns("AN/01", f, logs, None, TODAY)
    assert [(r.return_id, r.status, r.received_date, r.is_final) for r in returns] == [
        ("v1:3:AN/01:555:2017-04-01:2018-03-31", "completed", D("2018-04-15"), False),
        ("v1:3:AN/01:555:2019-04-01:2020-03-31", "due", None, True),
    ]


def test_no_logs_no_returns():
    assert format_returns("AN/01", fmt(), [], None, TODAY) == []


# ------------------------------------------------------------------ due dates


@pytest.mark.parametrize(
    "overrides, end, codes, expected",
    [
        # plain: end + 28 days
        ({}, "2019-03-31", [], "2019-04-28"),
        ({"FORM_PRODN_MONTH": "65"}, "2019-10-31", [], "2019-11-28"),
        # coronavirus extension
        ({}, "2020-03-31", [], "2020-10-16"),
        # cut short by the return version end, next version a variation: full cycle end
        ({"EFF_END_DATE": "30/09/2018"}, "2018-09-30", ["VARF"], "2019-04-28"),
        ({"EFF_END_DATE": "30/09/2019", "FORM_PRODN_MONTH": "45"}, "2019-09-30", ["XCORR"], "2019-11-28"),
        # ... and the full cycle is the 2020-03-31 one
        ({"EFF_END_DATE": "30/11/2019"}, "2019-11-30", ["AMND"], "2020-10-16"),
        # next version not a variation: cut end
        ({"EFF_END_DATE": "30/09/2019"}, "2019-09-30", ["SUCC"], "2019-10-28"),
        ({"EFF_END_DATE": "30/09/2019"}, "2019-09-30", [], "2019-10-28"),
        # ended by the licence, not the return version: cut end even with a variation code
        ({"EFF_END_DATE": "31/03/2021", "LICENCE_EXPIRY_DATE": "30/09/2019"}, "2019-09-30", ["VARF"], "2019-10-28"),
    ],
)
def test_due_date(overrides, end, codes, expected):
    assert due_date(D(end), fmt(**overrides), codes) == D(expected)


def test_format_returns_due_dates():
    f = fmt(EFF_ST_DATE="01/04/2019", EFF_END_DATE="30/09/2020")
    logs = [log("01/04/2019", "30/09/2020", "01/11/2020")]
    returns = format_returns("AN/01", f, logs, None, TODAY, ["VARM"])
    assert [(r.end_date, r.due_date) for r in returns] == [
        (D("2020-03-31"), D("2020-10-16")),
        (D("2020-09-30"), D("2021-04-28")),
    ]
    returns = format_returns("AN/01", f, logs, None, TODAY)
    assert returns[-1].due_date == D("2020-10-28")


def test_from_nald_row_requires_version_start():
    with pytest.raises(ValueError):
        fmt(EFF_ST_DATE="null")


def test_cycle_type_is_plain_data():
    assert return_cycles(D("2019-04-01"), D("2020-03-31"), None, False) == [
        ReturnCycle(D("2019-04-01"), D("2020-03-31"), True)
    ]
