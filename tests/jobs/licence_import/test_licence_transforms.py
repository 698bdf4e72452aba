"""The licence transforms with plain data: the legacy's rules and edge cases, and where they changed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from wrls_actors.jobs.licence_import.licence_import_rows import LicenceImportRows
from wrls_actors.jobs.licence_import.licence_transforms import (
    DocumentRole,
    end_dates_changed,
    map_licence,
    one_role_per_start,
    regions_json,
    transform_licence,
)

NULL = "null"


def licence_row(**changes) -> dict:
    return {
        "ID": "7",
        "LIC_NO": "03/28/61/0032",
        "FGAC_REGION_CODE": "2",
        "ORIG_EFF_DATE": "01/04/1990",
        "EXPIRY_DATE": NULL,
        "REV_DATE": NULL,
        "LAPSED_DATE": NULL,
        "AREP_CAMS_CODE": "MDC01",
        "AREP_AREA_CODE": "MDAR1",
        "AREP_EIUC_CODE": "MDOTH",
        "AREP_SUC_CODE": "MD",
        "AREP_LEAP_CODE": "MDL03",
        **changes,
    }


def version(
    issue: str, incr: str, start: str, end: str = NULL, status: str = "SUPER", party: str = "50", address: str = "60"
) -> dict:
    return {
        "AABL_ID": "7",
        "FGAC_REGION_CODE": "2",
        "ISSUE_NO": issue,
        "INCR_NO": incr,
        "STATUS": status,
        "EFF_ST_DATE": start,
        "EFF_END_DATE": end,
        "WA_ALTY_CODE": "FULL",
        "ACON_APAR_ID": party,
        "ACON_AADD_ID": address,
    }


def purpose(id_: str, issue: str, incr: str, **changes) -> dict:
    return {
        "ID": id_,
        "AABV_AABL_ID": "7",
        "AABV_ISSUE_NO": issue,
        "AABV_INCR_NO": incr,
        "FGAC_REGION_CODE": "2",
        "APUR_APPR_CODE": "A",
        "APUR_APSE_CODE": "AGR",
        "APUR_APUS_CODE": "400",
        "PERIOD_ST_DAY": "1",
        "PERIOD_ST_MONTH": "4",
        "PERIOD_END_DAY": "31",
        "PERIOD_END_MONTH": "10",
        "TIMELTD_ST_DATE": NULL,
        "TIMELTD_END_DATE": NULL,
        "NOTES": NULL,
        "ANNUAL_QTY": "1500.5",
        **changes,
    }


def condition(id_: str, purpose_id: str, code: str = "CES", subcode: str = "FLOW", **changes) -> dict:
    return {
        "ID": id_,
        "AABP_ID": purpose_id,
        "FGAC_REGION_CODE": "2",
        "ACIN_CODE": code,
        "ACIN_SUBCODE": subcode,
        "PARAM1": "Kingsmill",
        "PARAM2": NULL,
        "TEXT": "Cease below 5 Ml/d",
        "DISP_ORD": "1",
        **changes,
    }


def role(code: str, start: str, end: str = NULL, party: str = "51", address: str = "61") -> dict:
    return {
        "AABL_ID": "7",
        "FGAC_REGION_CODE": "2",
        "ALRT_CODE": code,
        "ACON_APAR_ID": party,
        "ACON_AADD_ID": address,
        "EFF_ST_DATE": start,
        "EFF_END_DATE": end,
    }


PARTIES = [
    {"ID": "50", "FGAC_REGION_CODE": "2", "APAR_TYPE": "ORG", "NAME": "Manor Farms Ltd"},
    {"ID": "51", "FGAC_REGION_CODE": "2", "APAR_TYPE": "PER", "NAME": "Smith"},
]
ADDRESSES = [{"ID": "60", "FGAC_REGION_CODE": "2"}, {"ID": "61", "FGAC_REGION_CODE": "2"}]


def rows(**changes) -> LicenceImportRows:
    values = {
        "licence": licence_row(),
        "versions": [version("100", "0", "01/04/1990", status="CURR")],
        "parties": PARTIES,
        "addresses": ADDRESSES,
        **changes,
    }
    return LicenceImportRows(**values)


# --------------------------------------------------------------------------- licence and document


def test_licence_row_from_nald():
    result = transform_licence(rows(licence=licence_row(EXPIRY_DATE="31/03/2030", LAPSED_DATE="01/02/2025")))
    licence = result.licence
    assert (licence.licence_ref, licence.region_code, licence.external_id) == ("03/28/61/0032", 2, "2:7")
    assert licence.start_date == date(1990, 4, 1)
    assert (licence.expired_date, licence.lapsed_date, licence.revoked_date) == (
        date(2030, 3, 31),
        date(2025, 2, 1),
        None,
    )
    assert licence.is_water_undertaker is False
    document = result.document
    assert (document.document_ref, document.external_id) == ("03/28/61/0032", "2:7")
    assert (document.start_date, document.end_date) == (date(1990, 4, 1), date(2025, 2, 1))


@pytest.mark.parametrize(
    "expiry, revoked, lapsed, end",
    [
        (NULL, NULL, NULL, None),
        ("31/03/2030", NULL, NULL, date(2030, 3, 31)),
        ("31/03/2030", "15/06/2021", "01/01/2022", date(2021, 6, 15)),
        (NULL, NULL, "01/01/2022", date(2022, 1, 1)),
    ],
)
def test_the_document_ends_at_the_earliest_end_date(expiry, revoked, lapsed, end):
    licence = licence_row(EXPIRY_DATE=expiry, REV_DATE=revoked, LAPSED_DATE=lapsed)
    assert transform_licence(rows(licence=licence)).document.end_date == end


def test_without_orig_eff_date_the_start_is_the_earliest_non_draft_version():
    versions = [
        version("101", "0", "05/05/2001", status="CURR"),
        version("100", "0", "02/02/1995"),
        version("102", "0", "01/01/1980", status="DRAFT"),
    ]
    licence = map_licence(licence_row(ORIG_EFF_DATE=NULL), versions)
    assert licence.start_date == date(1995, 2, 2)


def test_a_licence_with_no_start_date_at_all_fails_naming_it():
    with pytest.raises(ValueError, match="03/28/61/0032: no start date"):
        transform_licence(rows(licence=licence_row(ORIG_EFF_DATE=NULL), versions=[]))


def test_a_licence_without_versions_still_has_its_licence_and_document():
    result = transform_licence(rows(versions=[]))
    assert result.document.start_date == date(1990, 4, 1)
    assert (result.roles, result.versions, result.purposes) == ([], [], [])


@pytest.mark.parametrize("value", ["31/02/2020", "2020-01-31", "1/1/20", "soon"])
def test_a_malformed_date_fails_naming_the_licence_and_column(value):
    with pytest.raises(ValueError, match=r"licence 03/28/61/0032: EXPIRY_DATE '.*' is not a DD/MM/YYYY date"):
        transform_licence(rows(licence=licence_row(EXPIRY_DATE=value)))


@pytest.mark.parametrize(
    "eiuc, undertaker, area",
    [
        ("ANSWC", True, "Anglian"),
        ("TH OTH", False, "Thames"),
        ("WLSWC", True, "Wales"),
        ("YOOTH", False, "Yorkshire"),
        ("SWOTH", False, "South West (incl Wessex)"),
        ("NEOTH", False, None),
        (NULL, False, None),
        (None, False, None),
    ],
)
def test_water_undertaker_and_regional_charge_area_come_from_the_eiuc_code(eiuc, undertaker, area):
    licence = map_licence(licence_row(AREP_EIUC_CODE=eiuc), [])
    assert licence.is_water_undertaker is undertaker
    assert licence.regions["regionalChargeArea"] == area


def test_regions_json_keeps_the_codes_and_nulls_nalds_null_strings():
    assert regions_json(licence_row()) == {
        "historicalAreaCode": "MDAR1",
        "regionalChargeArea": "Midlands",
        "standardUnitChargeCode": "MD",
        "localEnvironmentAgencyPlanCode": "MDL03",
    }
    assert regions_json(licence_row(AREP_LEAP_CODE=NULL, AREP_SUC_CODE=NULL))["localEnvironmentAgencyPlanCode"] is None


@pytest.mark.parametrize(
    "before, changed",
    [
        (None, False),
        ({"expired_date": date(2030, 3, 31), "lapsed_date": None, "revoked_date": None}, False),
        ({"expired_date": None, "lapsed_date": None, "revoked_date": None}, True),
        ({"expired_date": date(2030, 3, 30), "lapsed_date": None, "revoked_date": None}, True),
        ({"expired_date": date(2030, 3, 31), "lapsed_date": date(2020, 1, 1), "revoked_date": None}, True),
        ({"expired_date": date(2030, 3, 31), "lapsed_date": None, "revoked_date": date(2020, 1, 1)}, True),
    ],
)
def test_end_dates_changed_compares_all_three_and_never_for_a_new_licence(before, changed):
    licence = map_licence(licence_row(EXPIRY_DATE="31/03/2030"), [])
    assert end_dates_changed(before, licence) is changed


# --------------------------------------------------------------------------- document roles


def test_one_licence_holder_role_per_version_cut_to_the_document_dates():
    versions = [
        version("100", "0", "01/01/1985", "31/12/1999", party="50"),
        version("101", "0", "01/01/2000", status="CURR", party="51", address="61"),
    ]
    result = transform_licence(rows(licence=licence_row(EXPIRY_DATE="31/03/2030"), versions=versions))
    assert result.roles == [
        DocumentRole("licenceHolder", date(1990, 4, 1), date(1999, 12, 31), "2:50", None, "2:60"),
        DocumentRole("licenceHolder", date(2000, 1, 1), date(2030, 3, 31), "2:51", "2:51", "2:61"),
    ]


def test_a_version_replaced_by_a_later_one_starting_the_same_day_has_no_role():
    versions = [
        version("100", "0", "01/01/2000", "31/12/2000", party="50"),
        version("100", "1", "01/01/2000", status="CURR", party="51"),
        version("99", "9", "01/01/2000", party="50"),
    ]
    result = transform_licence(rows(versions=versions))
    assert [(r.start_date, r.company_external_id) for r in result.roles] == [(date(2000, 1, 1), "2:51")]


def test_draft_versions_are_no_holders_and_have_no_licence_version():
    versions = [version("100", "0", "01/01/2000", status="CURR"), version("101", "0", "01/01/2026", status="DRAFT")]
    result = transform_licence(rows(versions=versions))
    assert [r.start_date for r in result.roles] == [date(2000, 1, 1)]
    assert [v.external_id for v in result.versions] == ["2:7:100:0"]


def test_parties_or_addresses_missing_from_nald_leave_their_ids_out():
    versions = [version("100", "0", "01/01/2000", status="CURR", party="99", address="98")]
    (holder,) = transform_licence(rows(versions=versions)).roles
    assert (holder.company_external_id, holder.contact_external_id, holder.address_external_id) == (None, None, None)


def test_returns_to_roles_only_ended_ones_too_with_nald_dates():
    nald = [
        role("RT", "01/05/2010", "30/04/2015"),
        role("RT", "01/05/2015", party="50", address="60"),
        role("LC", "01/01/2012"),
        role("AG", "01/01/2013"),
    ]
    result = transform_licence(rows(roles=nald))
    returns_to = [r for r in result.roles if r.role == "returnsTo"]
    assert returns_to == [
        DocumentRole("returnsTo", date(2010, 5, 1), date(2015, 4, 30), "2:51", "2:51", "2:61"),
        DocumentRole("returnsTo", date(2015, 5, 1), None, "2:50", None, "2:60"),
    ]


def test_a_returns_to_role_without_a_start_date_fails_naming_it():
    with pytest.raises(ValueError, match="03/28/61/0032 RT role of party 51: EFF_ST_DATE is null"):
        transform_licence(rows(roles=[role("RT", NULL)]))


def test_two_roles_of_a_kind_starting_the_same_day_are_one_the_longest_running():
    nald = [
        role("RT", "01/05/2010", "30/04/2015", party="50"),
        role("RT", "01/05/2010", party="51"),
        role("RT", "01/05/2010", "30/04/2020", party="50"),
    ]
    result = transform_licence(rows(roles=nald))
    assert [(r.start_date, r.end_date, r.company_external_id) for r in result.roles if r.role == "returnsTo"] == [
        (date(2010, 5, 1), None, "2:51")
    ]


def test_licence_holders_clamped_to_the_same_start_keep_the_later_version():
    versions = [
        version("100", "0", "01/01/1980", "31/12/1984", party="50"),
        version("101", "0", "01/01/1985", status="CURR", party="51"),
    ]
    result = transform_licence(rows(versions=versions))  # the document starts 01/04/1990: both clamp to it
    assert [(r.start_date, r.company_external_id) for r in result.roles] == [(date(1990, 4, 1), "2:51")]


def test_one_role_per_start_keeps_each_kind_apart():
    holder = DocumentRole("licenceHolder", date(2000, 1, 1), None, "2:50", None, None)
    returns_to = DocumentRole("returnsTo", date(2000, 1, 1), None, "2:51", "2:51", None)
    assert one_role_per_start([holder, returns_to]) == [holder, returns_to]


# --------------------------------------------------------------------------- versions, purposes, conditions


def test_versions_with_status_dates_and_holder():
    versions = [version("101", "2", "01/01/2000", status="CURR"), version("100", "0", "01/04/1990", "31/12/1999")]
    result = transform_licence(rows(versions=versions))
    assert [(v.external_id, v.issue, v.increment, v.status, v.start_date, v.end_date) for v in result.versions] == [
        ("2:7:100:0", 100, 0, "superseded", date(1990, 4, 1), date(1999, 12, 31)),
        ("2:7:101:2", 101, 2, "current", date(2000, 1, 1), None),
    ]
    assert {(v.company_external_id, v.address_external_id) for v in result.versions} == {("2:50", "2:60")}


def test_an_unknown_version_status_fails_naming_the_version():
    with pytest.raises(ValueError, match="licence version 2:7:100:0: unknown STATUS 'LIVE'"):
        transform_licence(rows(versions=[version("100", "0", "01/01/2000", status="LIVE")]))


def test_purposes_belong_to_their_version_by_issue_and_increment_as_numbers():
    versions = [version("100", "0", "01/01/2000", "31/12/2009"), version("101", "0", "01/01/2010", status="CURR")]
    nald = [purpose("20", "100", "0"), purpose("21", "0101", "00"), purpose("22", "102", "0")]
    result = transform_licence(rows(versions=versions, purposes=nald))
    assert [(p.external_id, p.version_external_id) for p in result.purposes] == [
        ("2:20", "2:7:100:0"),
        ("2:21", "2:7:101:0"),
    ]


def test_a_purpose_with_its_period_time_limit_notes_and_quantity():
    nald = [
        purpose(
            "20",
            "100",
            "0",
            TIMELTD_ST_DATE="01/04/2015",
            TIMELTD_END_DATE="31/03/2028",
            NOTES="Spray irrigation,\nno more than 500 m3 a day",
            ANNUAL_QTY="1500.50",
        )
    ]
    (p,) = transform_licence(rows(purposes=nald)).purposes
    assert (p.primary, p.secondary, p.use) == ("A", "AGR", "400")
    assert (
        p.abstraction_period_start_day,
        p.abstraction_period_start_month,
        p.abstraction_period_end_day,
        p.abstraction_period_end_month,
    ) == (1, 4, 31, 10)
    assert (p.time_limited_start_date, p.time_limited_end_date) == (date(2015, 4, 1), date(2028, 3, 31))
    assert p.notes == "Spray irrigation,\nno more than 500 m3 a day"
    assert p.annual_quantity == Decimal("1500.50")


def test_null_period_parts_and_quantity_are_none():
    nald = [purpose("20", "100", "0", PERIOD_ST_DAY=NULL, PERIOD_END_MONTH=NULL, ANNUAL_QTY=NULL)]
    (p,) = transform_licence(rows(purposes=nald)).purposes
    assert (p.abstraction_period_start_day, p.abstraction_period_end_month, p.annual_quantity) == (None, None, None)


def test_purpose_values_read_by_the_shared_nald_rules():
    # NULL in any case or blank, a date with a time after it: read as every other job reads them.
    nald = [
        purpose(
            "20",
            "100",
            "0",
            PERIOD_ST_DAY="NULL",
            ANNUAL_QTY=" ",
            NOTES="",
            TIMELTD_ST_DATE=" 01/04/2015 00:00:00",
            TIMELTD_END_DATE="Null",
        )
    ]
    (p,) = transform_licence(rows(purposes=nald)).purposes
    assert (p.abstraction_period_start_day, p.annual_quantity, p.notes) == (None, None, None)
    assert (p.time_limited_start_date, p.time_limited_end_date) == (date(2015, 4, 1), None)


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("ANNUAL_QTY", "lots", "ANNUAL_QTY 'lots' is not a number"),
        ("ANNUAL_QTY", "1e3", "ANNUAL_QTY '1e3' is not a number"),
        ("PERIOD_ST_DAY", "1_0", "PERIOD_ST_DAY '1_0' is not a whole number"),
        ("ANNUAL_QTY", "NaN", "ANNUAL_QTY 'NaN' is not a number"),
        ("PERIOD_ST_DAY", "1st", "PERIOD_ST_DAY '1st' is not a whole number"),
        ("APUR_APUS_CODE", NULL, "a purpose code is null"),
    ],
)
def test_unreadable_purpose_values_fail_naming_the_purpose(column, value, message):
    with pytest.raises(ValueError, match=f"licence purpose 2:20: {message}"):
        transform_licence(rows(purposes=[purpose("20", "100", "0", **{column: value})]))


def test_conditions_of_kept_purposes_only_with_their_external_ids():
    versions = [version("100", "0", "01/01/2000", status="CURR"), version("101", "0", "01/01/2026", status="DRAFT")]
    nald_purposes = [purpose("20", "100", "0"), purpose("21", "101", "0")]
    nald_conditions = [
        condition("30", "20", PARAM2="5.0", TEXT=NULL),
        condition("31", "21"),
        condition("32", "20", "MCOMP", "MET", PARAM1=NULL),
    ]
    result = transform_licence(rows(versions=versions, purposes=nald_purposes, conditions=nald_conditions))
    assert [
        (c.external_id, c.purpose_external_id, c.code, c.subcode, c.param_1, c.param_2, c.notes)
        for c in result.conditions
    ] == [
        ("30:2:20", "2:20", "CES", "FLOW", "Kingsmill", "5.0", None),
        ("32:2:20", "2:20", "MCOMP", "MET", None, None, "Cease below 5 Ml/d"),
    ]


def test_two_nald_rows_with_one_external_id_fail():
    versions = [version("100", "0", "01/01/2000", status="CURR"), version("100", "0", "01/01/2001", status="CURR")]
    with pytest.raises(ValueError, match="same licence version 2:7:100:0"):
        transform_licence(rows(versions=versions))


def test_the_same_rows_in_another_order_give_the_same_result():
    versions = [version("100", "0", "01/01/2000", "31/12/2009"), version("101", "0", "01/01/2010", status="CURR")]
    nald_purposes = [purpose("20", "100", "0"), purpose("21", "101", "0"), purpose("22", "101", "0")]
    nald_conditions = [condition("30", "20"), condition("31", "21"), condition("33", "22")]
    nald_roles = [role("RT", "01/05/2010"), role("RT", "01/05/2012", party="50", address="60")]
    forward = transform_licence(
        rows(versions=versions, purposes=nald_purposes, conditions=nald_conditions, roles=nald_roles)
    )
    backward = transform_licence(
        rows(
            versions=versions[::-1],
            purposes=nald_purposes[::-1],
            conditions=nald_conditions[::-1],
            roles=nald_roles[::-1],
        )
    )
    assert forward == backward
