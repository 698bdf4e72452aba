"""The rules of charging-import-data, on plain values (legacy charging-import queries)."""

from datetime import date

import pytest

from wrls_actors.jobs.charging_import_data import mapping
from wrls_actors.nald.codes import SEASONS, code_of, flag
from wrls_actors.nald.formats import is_summer_format, is_upload_format
from wrls_actors.nald.lookups import lookup
from wrls_actors.nald.values import nald_date


@pytest.mark.parametrize(
    "code, status", [("CURR", "current"), ("SUPER", "superseded"), ("DRAFT", "draft"), (" CURR ", "current")]
)
def test_return_version_status(code, status):
    assert mapping.return_version_status(code) == status


@pytest.mark.parametrize("code", ["curr", "X", "null", "", None])
def test_an_unknown_return_version_status_is_refused_with_the_known_ones(code):
    with pytest.raises(ValueError, match="CURR, SUPER, DRAFT"):
        mapping.return_version_status(code)


def test_returns_frequency_every_code_and_an_unknown_one():
    codes = {"D": "day", "W": "week", "F": "fortnight", "M": "month", "Q": "quarter", "A": "year"}
    assert {c: mapping.returns_frequency(c) for c in codes} == codes
    with pytest.raises(ValueError, match="'X' is not a returns frequency code"):
        mapping.returns_frequency("X")


def test_loss_factor_from_alsf_code():
    assert [mapping.loss_factor(c) for c in "VLMHN"] == ["very low", "low", "medium", "high", "non-chargeable"]
    with pytest.raises(ValueError, match="not a loss factor code"):
        mapping.loss_factor("null")


def test_two_part_tariff_uses():
    assert all(mapping.is_two_part_tariff(c) for c in ("380", "390", "400", "410", "420", "600", "620"))
    assert not any(mapping.is_two_part_tariff(c) for c in ("10", "140", "430", "610", "", None))


@pytest.mark.parametrize(
    "month, summer, upload",
    [
        ("65", True, True),
        ("45", True, False),
        ("80", True, False),
        ("66", False, True),
        ("16", False, False),
        ("46", False, False),
        ("null", False, False),
        (None, False, False),
        ("x", False, False),
    ],
)
def test_summer_and_upload_formats_from_form_prodn_month(month, summer, upload):
    assert (is_summer_format(month), is_upload_format(month)) == (summer, upload)


def test_flags_and_codes():
    assert flag("Y") is True and flag("N") is False
    with pytest.raises(ValueError, match="Y/N"):
        flag("null")
    season = code_of(SEASONS, "a season code")
    assert season(" S ") == "summer" and season("null") is None
    with pytest.raises(ValueError, match="'s' is not a season code"):
        season("s")


def test_a_lookup_keeps_the_readable_distinct_values_and_says_why_the_others_are_not():
    found = lookup(["CURR", "SUPER", "CURR", "BAD", None], mapping.return_version_status)
    assert found.raw == ["CURR", "SUPER"] and found.value == ["current", "superseded"]
    assert set(found.unreadable) == {"", "BAD"}  # NULL is offered to the rule, keyed '' as SQL joins on it
    assert "'BAD' is not a return version status" in found.unreadable["BAD"]
    dates = lookup(["null", "01/04/2020", None], nald_date)
    assert dict(zip(dates.raw, dates.value, strict=True)) == {"": None, "01/04/2020": date(2020, 4, 1), "null": None}
    assert dates.params("end_date") == {"end_date_raw": dates.raw, "end_date_value": dates.value}


def test_reference_rows():
    assert mapping.financial_agreement_type({"CODE": "S127", "DESCR": "Two-Part Tariff", "DISABLED": "N"}) == (
        "S127",
        "Two-Part Tariff",
        False,
    )
    assert mapping.purpose_use({"CODE": "400", "DESCR": "Spray Irrigation - Direct", "ALSF_CODE": "H"}) == (
        "400",
        "Spray Irrigation - Direct",
        "high",
        True,
    )
    assert mapping.valid_purpose({"APPR_CODE": "A", "APSE_CODE": "AGR", "APUS_CODE": "10", "DISABLED": "Y"}) is None
    rows, unreadable = mapping.map_rows(
        [
            {"CODE": "10", "DESCR": "Heat Pump", "ALSF_CODE": "V"},
            {"CODE": "20", "DESCR": "x", "ALSF_CODE": "Z"},
            {"CODE": "null", "DESCR": "y", "ALSF_CODE": "V"},
        ],
        mapping.purpose_use,
        "CODE",
    )
    assert rows == [("10", "Heat Pump", "very low", False)]
    assert unreadable == ["CODE '20': 'Z' is not a loss factor code (V, L, M, H, N)", "CODE 'null': CODE is missing"]
