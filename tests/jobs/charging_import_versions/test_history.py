"""The charge history rules (history.py) on plain data, with the legacy mapper's cases."""

from datetime import date

import pytest

from wrls_actors.jobs.charging_import_versions.history import Licence, NaldVersion, charge_history

LICENCE = Licence("1", "42", date(2000, 1, 1), None)


def v(number, start, end=None, error=False):
    return NaldVersion(number, start, end, error)


def rows(history):
    return [(c.external_id, c.version_number, c.start_date, c.end_date, c.status, c.is_nald_gap) for c in history]


def test_no_nald_version_gives_nothing():
    assert charge_history(LICENCE, []) == []


def test_contiguous_versions_from_the_licence_start_have_no_gap_and_the_last_stays_open():
    history = charge_history(LICENCE, [v(2, date(2010, 4, 1)), v(1, date(2000, 1, 1), date(2010, 3, 31))])
    assert rows(history) == [
        ("1:42:1", 1, date(2000, 1, 1), date(2010, 3, 31), "current", False),
        ("1:42:2", 2, date(2010, 4, 1), None, "current", False),
    ]


def test_an_end_date_past_the_next_start_is_clipped_to_the_day_before_it_and_an_open_one_too():
    history = charge_history(
        LICENCE, [v(1, date(2000, 1, 1), date(2012, 1, 1)), v(2, date(2010, 4, 1)), v(3, date(2015, 4, 1))]
    )
    assert [(c.version_number, c.end_date) for c in history] == [
        (1, date(2010, 3, 31)),
        (2, date(2015, 3, 31)),
        (3, None),
    ]


def test_an_earlier_end_date_is_kept_and_the_span_to_the_next_version_is_a_gap():
    history = charge_history(LICENCE, [v(1, date(2000, 1, 1), date(2005, 6, 30)), v(2, date(2010, 4, 1))])
    assert rows(history) == [
        ("1:42:1", 1, date(2000, 1, 1), date(2005, 6, 30), "current", False),
        ("1:42:1-2", 3, date(2005, 7, 1), date(2010, 3, 31), "current", True),
        ("1:42:2", 2, date(2010, 4, 1), None, "current", False),
    ]


def test_versions_in_error_or_starting_with_the_next_are_superseded_unclipped_and_leave_gaps():
    history = charge_history(
        LICENCE,
        [
            v(1, date(2000, 1, 1), date(2004, 12, 31)),
            v(2, date(2005, 1, 1), date(2009, 12, 31), error=True),  # flagged in NALD
            v(3, date(2010, 1, 1), date(2010, 12, 31)),  # same start as the next one
            v(4, date(2010, 1, 1)),
        ],
    )
    assert rows(history) == [
        ("1:42:1", 1, date(2000, 1, 1), date(2004, 12, 31), "current", False),
        ("1:42:2", 2, date(2005, 1, 1), date(2009, 12, 31), "superseded", False),
        ("1:42:1-4", 5, date(2005, 1, 1), date(2009, 12, 31), "current", True),
        ("1:42:3", 3, date(2010, 1, 1), date(2010, 12, 31), "superseded", False),
        ("1:42:4", 4, date(2010, 1, 1), None, "current", False),
    ]


def test_gaps_before_the_first_and_after_the_last_version_reach_the_licence_dates():
    licence = Licence("3", "7", date(1990, 5, 1), date(2030, 12, 31))
    history = charge_history(licence, [v(1, date(1995, 4, 1), date(2020, 3, 31))])
    assert rows(history) == [
        ("3:7:licenceStart", 2, date(1990, 5, 1), date(1995, 3, 31), "current", True),
        ("3:7:1", 1, date(1995, 4, 1), date(2020, 3, 31), "current", False),
        ("3:7:licenceEnd", 3, date(2020, 4, 1), date(2030, 12, 31), "current", True),
    ]


def test_an_ended_last_version_of_an_open_licence_leaves_an_open_gap():
    history = charge_history(LICENCE, [v(1, date(2000, 1, 1), date(2020, 3, 31))])
    assert rows(history)[-1] == ("1:42:licenceEnd", 2, date(2020, 4, 1), None, "current", True)


def test_a_last_version_ending_with_the_licence_leaves_no_gap():
    licence = Licence("1", "42", date(2000, 1, 1), date(2020, 3, 31))
    assert [c.is_nald_gap for c in charge_history(licence, [v(1, date(2000, 1, 1), date(2020, 3, 31))])] == [False]


def test_when_no_version_is_current_the_whole_licence_is_one_gap():
    licence = Licence("2", "9", date(2001, 1, 1), date(2021, 1, 1))
    history = charge_history(licence, [v(3, date(2005, 1, 1), error=True)])
    assert rows(history) == [
        ("2:9:licenceStart-licenceEnd", 4, date(2001, 1, 1), date(2021, 1, 1), "current", True),
        ("2:9:3", 3, date(2005, 1, 1), None, "superseded", False),
    ]


def test_a_whole_licence_gap_without_a_licence_start_date_is_refused():
    with pytest.raises(ValueError, match="licence 2:9 has no start date"):
        charge_history(Licence("2", "9", None, None), [v(1, date(2005, 1, 1), error=True)])


def test_a_licence_without_a_start_date_gets_no_gap_before_its_first_version():
    history = charge_history(Licence("1", "42", None, None), [v(1, date(2005, 1, 1))])
    assert rows(history) == [("1:42:1", 1, date(2005, 1, 1), None, "current", False)]


def test_the_order_given_does_not_matter():
    versions = [v(1, date(2000, 1, 1), date(2004, 12, 31)), v(2, date(2006, 1, 1)), v(3, date(2003, 1, 1))]
    assert charge_history(LICENCE, versions) == charge_history(LICENCE, versions[::-1])
