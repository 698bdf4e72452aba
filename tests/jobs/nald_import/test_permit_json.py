"""Legacy permit JSON, CRM metadata and return metadata (transform-permit/crm/returns.js), plain data."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

import pytest

from wrls_actors.jobs.nald_import.licence_rows import LicenceRows
from wrls_actors.jobs.nald_import.permit_json import (
    NaldDataError,
    abstraction_point,
    calendar_to_sortable,
    document_metadata,
    json_text,
    licence_end_date,
    permit_licence,
    return_frequency,
    return_metadata,
    sentence_case,
)
from wrls_actors.jobs.nald_import.return_cycles import NaldReturn
from wrls_actors.jobs.nald_import.returns import licence_returns
from wrls_actors.nald.rows import sort_rows, sort_value

D = date.fromisoformat
TODAY = D("2026-11-29")
N = "null"


def row(**values) -> dict:
    return dict(values)


def licence_rows(**overrides) -> LicenceRows:
    """A licence in region 1: an old and a current version, a holder, a returns contact, one format."""
    rows = LicenceRows(
        licence=row(
            ID="100",
            LIC_NO="01/123",
            FGAC_REGION_CODE="1",
            ORIG_EFF_DATE="01/04/2000",
            EXPIRY_DATE=N,
            REV_DATE=N,
            LAPSED_DATE=N,
            AREP_CAMS_CODE="C1",
            AREP_AREA_CODE="ARCA",
        ),
        versions=[
            row(
                AABL_ID="100",
                FGAC_REGION_CODE="1",
                ISSUE_NO="1",
                INCR_NO="0",
                STATUS="SUPER",
                EFF_ST_DATE="01/04/2000",
                EFF_END_DATE="31/03/2010",
                WA_ALTY_CODE="FULL",
                ACON_APAR_ID="7",
                ACON_AADD_ID="8",
            ),
            row(
                AABL_ID="100",
                FGAC_REGION_CODE="1",
                ISSUE_NO="2",
                INCR_NO="0",
                STATUS="CURR",
                EFF_ST_DATE="01/04/2010",
                EFF_END_DATE=N,
                WA_ALTY_CODE="FULL",
                ACON_APAR_ID="7",
                ACON_AADD_ID="8",
            ),
        ],
        licence_types=[row(CODE="FULL", DESCR="Full licence")],
        parties=[
            row(
                ID="7",
                FGAC_REGION_CODE="1",
                APAR_TYPE="ORG",
                NAME=" Acme Water Ltd ",
                SALUTATION=N,
                INITIALS=N,
                FORENAME=N,
            ),
            row(
                ID="9",
                FGAC_REGION_CODE="1",
                APAR_TYPE="PER",
                NAME="Smith",
                SALUTATION="Mr",
                INITIALS="J",
                FORENAME="John",
            ),
        ],
        addresses=[
            row(
                ID="8",
                FGAC_REGION_CODE="1",
                ADDR_LINE1="1 High Street",
                ADDR_LINE2=N,
                ADDR_LINE3=N,
                ADDR_LINE4=N,
                TOWN="Bristol ",
                COUNTY=N,
                POSTCODE="BS1 1AA",
                COUNTRY=N,
            ),
            row(
                ID="10",
                FGAC_REGION_CODE="1",
                ADDR_LINE1="Farm",
                ADDR_LINE2=N,
                ADDR_LINE3=N,
                ADDR_LINE4=N,
                TOWN="Bath",
                COUNTY="Somerset",
                POSTCODE="BA1 1AA",
                COUNTRY=N,
            ),
        ],
        contacts=[row(APAR_ID="7", AADD_ID="8", FGAC_REGION_CODE="1")],
        roles=[
            row(
                AABL_ID="100",
                FGAC_REGION_CODE="1",
                ALRT_CODE="RT",
                ACON_APAR_ID="9",
                ACON_AADD_ID="10",
                EFF_ST_DATE="01/01/2015",
                EFF_END_DATE=N,
            ),
        ],
        role_types=[row(CODE="RT", DESCR="RETURNS TO")],
        contact_numbers=[
            row(ACON_APAR_ID="9", ACON_AADD_ID="10", ACNT_CODE="TEL", FGAC_REGION_CODE="1", NO="0123 456")
        ],
        contact_number_types=[row(CODE="TEL", DESCR="Telephone")],
        purposes=[
            row(
                ID="200",
                AABV_AABL_ID="100",
                AABV_ISSUE_NO="1",
                AABV_INCR_NO="0",
                FGAC_REGION_CODE="1",
                APUR_APPR_CODE="A",
                APUR_APSE_CODE="AGR",
                APUR_APUS_CODE="140",
            ),
            row(
                ID="201",
                AABV_AABL_ID="100",
                AABV_ISSUE_NO="2",
                AABV_INCR_NO="0",
                FGAC_REGION_CODE="1",
                APUR_APPR_CODE="A",
                APUR_APSE_CODE="AGR",
                APUR_APUS_CODE="140",
            ),
        ],
        purpose_points=[row(AABP_ID="201", AAIP_ID="50", AMOA_CODE="UNP", FGAC_REGION_CODE="1")],
        points=[
            row(
                ID="50",
                FGAC_REGION_CODE="1",
                ASRC_CODE="GW",
                NGR1_SHEET="SP",
                NGR1_EAST="12345",
                NGR1_NORTH="67890",
                LOCAL_NAME="Borehole",
            )
        ],
        sources=[row(CODE="GW", NAME="Groundwater")],
        means_of_abstraction=[row(CODE="UNP", DESCR="Unspecified pump")],
        purposes_primary=[row(CODE="A", DESCR="Agriculture")],
        purposes_secondary=[row(CODE="AGR", DESCR="General Agriculture")],
        purpose_uses=[row(CODE="140", DESCR="Spray Irrigation - Direct", ALSF_CODE="H")],
        conditions=[
            row(ID="301", AABP_ID="201", FGAC_REGION_CODE="1", ACIN_CODE="CES", ACIN_SUBCODE="FLOW", DISP_ORD="10"),
            row(ID="300", AABP_ID="201", FGAC_REGION_CODE="1", ACIN_CODE="CES", ACIN_SUBCODE="LEV", DISP_ORD="9"),
        ],
        condition_types=[row(CODE="CES", SUBCODE="FLOW", DESCR="Cessation", SUBCODE_DESC="Flow", AFFECTS_ABS="Y")],
        agreements=[
            row(AABP_ID="201", FGAC_REGION_CODE="1", AFSA_CODE="S127", EFF_ST_DATE="01/04/2010", EFF_END_DATE=N)
        ],
        cams=[row(CODE="C1", FGAC_REGION_CODE="1", NAME="Cams one")],
        return_versions=[
            row(
                AABL_ID="100",
                VERS_NO="1",
                FGAC_REGION_CODE="1",
                STATUS="CURR",
                EFF_ST_DATE="01/04/2010",
                EFF_END_DATE=N,
            )
        ],
        return_formats=[
            row(
                ID="500",
                ARVN_AABL_ID="100",
                ARVN_VERS_NO="1",
                FGAC_REGION_CODE="1",
                ARTC_REC_FREQ_CODE="M",
                FORM_PRODN_MONTH="66",
                ABS_PERIOD_ST_DAY="1",
                ABS_PERIOD_ST_MONTH="4",
                ABS_PERIOD_END_DAY="31",
                ABS_PERIOD_END_MONTH="3",
                SITE_DESCR="Borehole at Acme",
                DESCR=N,
                TPT_FLAG="N",
                TIMELTD_ST_DATE=N,
                TIMELTD_END_DATE=N,
            )
        ],
        return_format_purposes=[
            row(
                ARTY_ID="500",
                FGAC_REGION_CODE="1",
                APUR_APPR_CODE="A",
                APUR_APSE_CODE="AGR",
                APUR_APUS_CODE="140",
                PURP_ALIAS=" Spray ",
            )
        ],
        return_format_points=[row(ARTY_ID="500", AAIP_ID="50", FGAC_REGION_CODE="1")],
    )
    return replace(rows, **overrides)


def data(rows: LicenceRows, today: date = TODAY) -> dict:
    return permit_licence(rows, today).data


def with_licence(**values) -> LicenceRows:
    base = licence_rows()
    return replace(base, licence={**base.licence, **values})


# ------------------------------------------------------------------ permit.licence


def test_a_licence_without_versions_is_skipped():
    assert permit_licence(licence_rows(versions=[]), TODAY) is None


def test_start_date_is_that_of_the_highest_issue_then_increment():
    versions = [
        row(ISSUE_NO="9", INCR_NO="3", STATUS="SUPER", EFF_ST_DATE="01/01/2009", EFF_END_DATE=N),
        row(ISSUE_NO="10", INCR_NO="0", STATUS="SUPER", EFF_ST_DATE="01/01/2010", EFF_END_DATE=N),
        row(ISSUE_NO="10", INCR_NO="2", STATUS="CURR", EFF_ST_DATE="05/06/2011", EFF_END_DATE=N),
        row(ISSUE_NO="10", INCR_NO="1", STATUS="SUPER", EFF_ST_DATE="01/01/2011", EFF_END_DATE=N),
    ]
    permit = permit_licence(licence_rows(versions=versions), TODAY)
    assert permit.licence_ref == "01/123"
    assert permit.start_date == D("2011-06-05")
    # The legacy stored the versions sorted latest first (getLatestVersion sorted them in place).
    assert [(v["ISSUE_NO"], v["INCR_NO"]) for v in permit.data["data"]["versions"]] == [
        ("10", "2"),
        ("10", "1"),
        ("10", "0"),
        ("9", "3"),
    ]


def test_start_date_is_none_when_the_latest_version_has_none():
    rows = licence_rows()
    versions = [rows.versions[0], {**rows.versions[1], "EFF_ST_DATE": N}]
    assert permit_licence(replace(rows, versions=versions), TODAY).start_date is None


@pytest.mark.parametrize(
    "expiry, revoked, lapsed, expected",
    [
        (N, N, N, None),
        ("01/04/2030", N, N, "2030-04-01"),
        ("01/04/2030", "31/12/2027", "03/09/2029", "2027-12-31"),
        (N, N, "03/09/2019", "2019-09-03"),
        (None, "1/2/2020", N, "2020-02-01"),
    ],
)
def test_end_date_is_the_earliest_of_expiry_revoked_and_lapsed(expiry, revoked, lapsed, expected):
    licence = {"EXPIRY_DATE": expiry, "REV_DATE": revoked, "LAPSED_DATE": lapsed}
    assert licence_end_date(licence) == (D(expected) if expected else None)
    permit = permit_licence(with_licence(**licence), TODAY)
    assert permit.end_date == (D(expected) if expected else None)
    assert permit.data["end_date"] == expected


def test_permit_json_keeps_the_licence_row_then_adds_dates_version_and_data():
    result = data(licence_rows())
    assert list(result) == [
        "ID",
        "LIC_NO",
        "FGAC_REGION_CODE",
        "ORIG_EFF_DATE",
        "EXPIRY_DATE",
        "REV_DATE",
        "LAPSED_DATE",
        "AREP_CAMS_CODE",
        "AREP_AREA_CODE",
        "start_date",
        "end_date",
        "vmlVersion",
        "data",
    ]
    assert result["EXPIRY_DATE"] == "null"  # the NALD row is kept as stored
    assert (result["start_date"], result["end_date"], result["vmlVersion"]) == ("2000-04-01", None, 2)
    assert list(result["data"]) == ["versions", "current_version", "cams", "roles", "purposes"]
    assert result["data"]["cams"] == [{"CODE": "C1", "FGAC_REGION_CODE": "1", "NAME": "Cams one"}]


def test_versions_carry_their_parties_and_the_parties_their_contacts_with_address():
    version = data(licence_rows())["data"]["versions"][0]
    assert version["ISSUE_NO"] == "2" and list(version)[-1] == "parties"
    [party] = version["parties"]
    assert party["NAME"] == " Acme Water Ltd "
    [contact] = party["contacts"]
    assert contact["AADD_ID"] == "8" and contact["party_address"]["ADDR_LINE1"] == "1 High Street"


def test_a_contact_without_its_address_row_is_left_out():
    rows = licence_rows(
        contacts=[
            row(APAR_ID="7", AADD_ID="8", FGAC_REGION_CODE="1"),
            row(APAR_ID="7", AADD_ID="99", FGAC_REGION_CODE="1"),
        ]
    )
    assert [c["AADD_ID"] for c in data(rows)["data"]["versions"][0]["parties"][0]["contacts"]] == ["8"]


# ------------------------------------------------------------------ current version


def test_current_version_is_the_curr_version_in_effect():
    current = data(licence_rows())["data"]["current_version"]
    assert list(current) == [
        "licence",
        "party",
        "address",
        "original_effective_date",
        "version_effective_date",
        "expiry_date",
        "purposes",
        "formats",
    ]
    licence = current["licence"]
    assert (licence["ISSUE_NO"], licence["STATUS"], licence["CODE"], licence["DESCR"]) == (
        "2",
        "CURR",
        "FULL",
        "Full licence",
    )
    assert [p["ID"] for p in licence["party"]] == ["7"]  # a list, as the legacy named it
    assert current["party"]["ID"] == "7" and current["address"]["ID"] == "8"
    assert current["original_effective_date"] == "20000401"
    assert current["version_effective_date"] == "20100401"
    assert current["expiry_date"] is None
    # Only the purposes of that version; formats of the CURR return versions with points and purposes.
    assert [p["ID"] for p in current["purposes"]] == ["201"]
    [fmt] = current["formats"]
    assert fmt["ID"] == "500" and [p["ID"] for p in fmt["points"]] == ["50"]
    assert fmt["purposes"][0]["primary_purpose"] == "Agriculture"
    assert fmt["purposes"][0]["tertiary_purpose"] == "Spray Irrigation - Direct"


@pytest.mark.parametrize(
    "column, value, current",
    [
        ("EXPIRY_DATE", "29/11/2026", False),  # ends today: already ended (legacy: date > now())
        ("EXPIRY_DATE", "30/11/2026", True),
        ("LAPSED_DATE", "01/01/2020", False),
        ("REV_DATE", "28/11/2026", False),
        ("REV_DATE", N, True),
    ],
)
def test_an_ended_licence_has_no_current_version(column, value, current):
    assert (data(with_licence(**{column: value}))["data"]["current_version"] is not None) is current


@pytest.mark.parametrize(
    "changes, current",
    [
        ({"EFF_ST_DATE": "30/11/2026"}, False),  # not started
        ({"EFF_ST_DATE": "29/11/2026"}, True),
        ({"EFF_END_DATE": "29/11/2026"}, False),
        ({"EFF_END_DATE": "30/11/2026"}, True),
        ({"STATUS": "DRAFT"}, False),
        ({"WA_ALTY_CODE": "UNKNOWN"}, False),  # the legacy inner-joined NALD_WA_LIC_TYPES
    ],
)
def test_the_current_version_must_be_curr_started_not_ended_and_typed(changes, current):
    rows = licence_rows()
    rows = replace(rows, versions=[rows.versions[0], {**rows.versions[1], **changes}])
    assert (data(rows)["data"]["current_version"] is not None) is current


def test_the_highest_of_several_curr_versions_is_current():
    rows = licence_rows()
    newer = {**rows.versions[1], "ISSUE_NO": "10", "EFF_ST_DATE": "01/04/2020"}
    older = {**rows.versions[1], "ISSUE_NO": "9"}
    current = data(replace(rows, versions=[older, newer]))["data"]["current_version"]
    assert current["licence"]["ISSUE_NO"] == "10" and current["version_effective_date"] == "20200401"


def test_a_current_version_without_party_or_address_rows_leaves_the_keys_out():
    current = data(licence_rows(parties=[], addresses=[]))["data"]["current_version"]
    assert "party" not in current and "address" not in current and current["licence"]["party"] == []


# ------------------------------------------------------------------ roles and purposes


@pytest.mark.parametrize(
    "end, start, kept",
    [
        (N, "01/01/2015", True),
        ("29/11/2026", "01/01/2015", False),  # ends today: ended (legacy: date > now())
        ("30/11/2026", "01/01/2015", True),
        ("01/01/2020", "01/01/2015", False),
        (N, "01/01/2030", True),  # not started yet: kept, as the legacy did
    ],
)
def test_ended_roles_are_left_out(end, start, kept):
    rows = licence_rows()
    rows = replace(rows, roles=[{**rows.roles[0], "EFF_END_DATE": end, "EFF_ST_DATE": start}])
    assert len(data(rows)["data"]["roles"]) == (1 if kept else 0)


def test_a_role_has_its_detail_type_party_address_and_contact_numbers():
    [role] = data(licence_rows())["data"]["roles"]
    assert list(role) == ["role_detail", "role_type", "role_party", "role_address", "array"]
    assert role["role_detail"]["ALRT_CODE"] == "RT" and role["role_type"]["DESCR"] == "RETURNS TO"
    assert role["role_party"]["ID"] == "9" and role["role_address"]["ID"] == "10"
    assert role["array"] == [
        {
            "ACON_APAR_ID": "9",
            "ACON_AADD_ID": "10",
            "ACNT_CODE": "TEL",
            "FGAC_REGION_CODE": "1",
            "NO": "0123 456",
            "CODE": "TEL",
            "DESCR": "Telephone",
        }
    ]


def test_a_role_whose_party_or_address_is_missing_is_left_out():
    rows = licence_rows()
    assert data(replace(rows, parties=rows.parties[:1]))["data"]["roles"] == []
    assert data(replace(rows, addresses=rows.addresses[:1]))["data"]["roles"] == []


def test_contact_numbers_must_match_the_role_address_too():
    rows = licence_rows(
        contact_numbers=[row(ACON_APAR_ID="9", ACON_AADD_ID="11", ACNT_CODE="TEL", FGAC_REGION_CODE="1", NO="999")]
    )
    assert data(rows)["data"]["roles"][0]["array"] == []


def test_purposes_of_every_version_with_codes_points_agreements_and_conditions():
    purposes = data(licence_rows())["data"]["purposes"]
    assert [p["ID"] for p in purposes] == ["200", "201"]
    purpose = purposes[1]
    assert list(purpose)[-4:] == ["purpose", "purposePoints", "licenceAgreements", "licenceConditions"]
    assert purpose["purpose"] == [
        {
            "purpose_primary": {"CODE": "A", "DESCR": "Agriculture"},
            "purpose_secondary": {"CODE": "AGR", "DESCR": "General Agriculture"},
            "purpose_tertiary": {"CODE": "140", "DESCR": "Spray Irrigation - Direct", "ALSF_CODE": "H"},
        }
    ]
    [point] = purpose["purposePoints"]
    assert point["AAIP_ID"] == "50" and point["means_of_abstraction"]["DESCR"] == "Unspecified pump"
    assert point["point_detail"]["LOCAL_NAME"] == "Borehole" and point["point_source"]["NAME"] == "Groundwater"
    assert [a["AFSA_CODE"] for a in purpose["licenceAgreements"]] == ["S127"]
    # By DISP_ORD as a number (the legacy sorted the text, putting '10' first).
    assert [
        (c["DISP_ORD"], c["condition_type"] and c["condition_type"]["SUBCODE_DESC"])
        for c in purpose["licenceConditions"]
    ] == [("9", None), ("10", "Flow")]
    assert purposes[0]["purposePoints"] == []


def test_a_purpose_with_an_unknown_primary_code_has_no_purpose_row_and_missing_points_are_dropped():
    rows = licence_rows(purposes_primary=[], points=[])
    purpose = data(rows)["data"]["purposes"][1]
    assert purpose["purpose"] == [] and purpose["purposePoints"] == []


# ------------------------------------------------------------------ crm.document_header


def metadata(rows: LicenceRows, today: date = TODAY) -> dict:
    return document_metadata(rows, permit_licence(rows, today))


def test_document_metadata_of_a_current_licence():
    result = metadata(with_licence(EXPIRY_DATE="31/03/2030"))
    assert result == {
        "Name": " Acme Water Ltd ",
        "Salutation": "",
        "Initials": "",
        "Forename": "",
        "AddressLine1": "1 High Street",
        "AddressLine2": "",
        "AddressLine3": "",
        "AddressLine4": "",
        "Town": "Bristol ",
        "County": "",
        "Postcode": "BS1 1AA",
        "Country": "",
        "Expires": "20300331",
        "Modified": "20100401",
        "IsCurrent": True,
        "contacts": [
            {
                "role": "Licence holder",
                "type": "Organisation",
                "salutation": None,
                "forename": None,
                "initials": None,
                "name": "Acme Water Ltd",
                "addressLine1": "1 High Street",
                "addressLine2": None,
                "addressLine3": None,
                "addressLine4": None,
                "town": "Bristol",
                "county": None,
                "postcode": "BS1 1AA",
                "country": None,
            },
            {
                "role": "Returns to",
                "type": "Person",
                "salutation": "Mr",
                "forename": "John",
                "initials": "J",
                "name": "Smith",
                "addressLine1": "Farm",
                "addressLine2": None,
                "addressLine3": None,
                "addressLine4": None,
                "town": "Bath",
                "county": "Somerset",
                "postcode": "BA1 1AA",
                "country": None,
            },
        ],
    }
    assert list(result) == [
        "Name",
        "Salutation",
        "Initials",
        "Forename",
        "AddressLine1",
        "AddressLine2",
        "AddressLine3",
        "AddressLine4",
        "Town",
        "County",
        "Postcode",
        "Country",
        "Expires",
        "Modified",
        "IsCurrent",
        "contacts",
    ]


def test_a_person_holder_is_a_person_contact():
    rows = licence_rows()
    person = {
        **rows.parties[0],
        "APAR_TYPE": "PER",
        "SALUTATION": " Mrs",
        "FORENAME": "Ann",
        "INITIALS": "A B",
        "NAME": "Jones",
    }
    result = metadata(replace(rows, parties=[person, rows.parties[1]]))
    assert (result["Name"], result["Salutation"], result["Forename"]) == ("Jones", " Mrs", "Ann")
    holder = result["contacts"][0]
    assert (holder["type"], holder["salutation"], holder["forename"], holder["initials"], holder["name"]) == (
        "Person",
        "Mrs",
        "Ann",
        "A B",
        "Jones",
    )


def test_an_ended_licence_is_not_current_but_keeps_its_contacts():
    result = metadata(with_licence(LAPSED_DATE="01/01/2020"))
    assert list(result) == ["IsCurrent", "contacts"]
    assert result["IsCurrent"] is False
    assert [c["role"] for c in result["contacts"]] == ["Licence holder", "Returns to"]


def test_a_licence_without_a_curr_version_has_no_contacts():
    rows = licence_rows()
    rows = replace(rows, versions=[{**v, "STATUS": "SUPER"} for v in rows.versions])
    assert metadata(rows) == {"IsCurrent": False, "contacts": []}


@pytest.mark.parametrize(
    "changes",
    [
        {"contacts": []},  # the holder has no contact at the version's address
        {"parties": []},  # no holder party
        {"role_types": []},  # a role without its type
    ],
)
def test_missing_holder_or_role_data_fails_as_the_legacy_did(changes):
    with pytest.raises(NaldDataError):
        metadata(licence_rows(**changes))


@pytest.mark.parametrize(
    "value, expected",
    [
        ("RETURNS TO", "Returns to"),
        ("Licence contact", "Licence contact"),
        ("licenceHolder", "Licence holder"),
        ("ABSTRACTION_REFORM-contact", "Abstraction reform contact"),
        ("XMLHttpRequest", "Xml http request"),
        ("  Enforcement  Contact ", "Enforcement contact"),
        ("", ""),
    ],
)
def test_sentence_case_as_npm_sentence_case(value, expected):
    assert sentence_case(value) == expected


# ------------------------------------------------------------------ returns


def a_return(is_current=True, is_final=False) -> NaldReturn:
    return NaldReturn(
        return_id="v1:1:01/123:500:2019-04-01:2020-03-31",
        licence_ref="01/123",
        format_id="500",
        region_code="1",
        start_date=D("2019-04-01"),
        end_date=D("2020-03-31"),
        due_date=D("2020-10-16"),
        status="completed",
        received_date=D("2020-04-15"),
        is_current=is_current,
        is_final=is_final,
        is_summer=False,
    )


def test_return_metadata_follows_the_legacy_shape():
    rows = licence_rows()
    result = return_metadata(rows, rows.return_formats[0], a_return(is_current=False, is_final=True))
    assert result == {
        "version": 1,
        "description": "Borehole at Acme",
        "purposes": [
            {
                "primary": {"code": "A", "description": "Agriculture"},
                "secondary": {"code": "AGR", "description": "General Agriculture"},
                "tertiary": {"code": "140", "description": "Spray Irrigation - Direct"},
                "alias": "Spray",
            }
        ],
        "points": [{"ngr1": "SP 123 678", "ngr2": None, "ngr3": None, "ngr4": None, "name": "Borehole"}],
        "nald": {
            "regionCode": 1,
            "areaCode": "ARCA",
            "formatId": 500,
            "periodStartDay": "1",
            "periodStartMonth": "4",
            "periodEndDay": "31",
            "periodEndMonth": "3",
        },
        "isTwoPartTariff": False,
        "isSummer": False,
        "isUpload": True,
        "isCurrent": False,
        "isFinal": True,
    }
    assert list(result) == [
        "version",
        "description",
        "purposes",
        "points",
        "nald",
        "isTwoPartTariff",
        "isSummer",
        "isUpload",
        "isCurrent",
        "isFinal",
    ]


@pytest.mark.parametrize(
    "month, summer, upload",
    [
        ("65", True, True),
        ("66", False, True),
        ("45", True, True),
        ("46", False, True),
        ("80", True, False),
        ("70", False, False),
        (N, False, False),
    ],
)
def test_return_metadata_production_month_flags(month, summer, upload):
    rows = licence_rows()
    fmt = {**rows.return_formats[0], "FORM_PRODN_MONTH": month, "TPT_FLAG": "Y"}
    result = return_metadata(rows, fmt, a_return())
    assert (result["isSummer"], result["isUpload"], result["isTwoPartTariff"]) == (summer, upload, True)


@pytest.mark.parametrize("alias", [N, " NULL ", "", "  ", None])
def test_return_purpose_without_alias_has_no_alias_key(alias):
    rows = licence_rows()
    rows = replace(rows, return_format_purposes=[{**rows.return_format_purposes[0], "PURP_ALIAS": alias}])
    [purpose] = return_metadata(rows, rows.return_formats[0], a_return())["purposes"]
    assert list(purpose) == ["primary", "secondary", "tertiary"]


def test_return_metadata_keeps_null_strings_where_the_legacy_did_and_only_the_formats_rows():
    rows = licence_rows(purposes_secondary=[], points=[])
    other = {**rows.return_format_purposes[0], "ARTY_ID": "501", "APUR_APPR_CODE": "I"}
    rows = replace(
        rows,
        return_format_purposes=[*rows.return_format_purposes, other],
        return_format_points=[*rows.return_format_points, row(ARTY_ID="501", AAIP_ID="51")],
    )
    fmt = {**rows.return_formats[0], "SITE_DESCR": N, "ABS_PERIOD_ST_DAY": N}
    result = return_metadata(rows, fmt, a_return())
    assert result["description"] == "null" and result["nald"]["periodStartDay"] == "null"
    assert [p["primary"]["code"] for p in result["purposes"]] == ["A"]
    assert result["purposes"][0]["secondary"] == {"code": "AGR", "description": None}
    # A format point whose NALD_POINTS row is missing: all nulls (the legacy LEFT JOIN).
    assert result["points"] == [{"ngr1": None, "ngr2": None, "ngr3": None, "ngr4": None, "name": None}]


@pytest.mark.parametrize(
    "code, frequency",
    [("D", "day"), ("W", "week"), ("F", "fortnight"), ("M", "month"), ("Q", "quarter"), ("A", "year")],
)
def test_return_frequency(code, frequency):
    assert return_frequency({"ARTC_REC_FREQ_CODE": code}) == frequency


@pytest.mark.parametrize("code", [N, None, "X"])
def test_an_unknown_return_frequency_is_bad_data_naming_the_format(code):
    with pytest.raises(NaldDataError, match="return format 77: unknown ARTC_REC_FREQ_CODE"):
        return_frequency({"ID": "77", "ARTC_REC_FREQ_CODE": code})


def test_abstraction_point_formats_grid_references():
    point = {
        "NGR1_SHEET": "SP",
        "NGR1_EAST": "12345",
        "NGR1_NORTH": "67890",
        "NGR2_SHEET": "null",
        "NGR3_SHEET": "TQ",
        "NGR3_EAST": "1",
        "NGR3_NORTH": "null",
        "LOCAL_NAME": "null",
    }
    assert abstraction_point(point) == {"ngr1": "SP 123 678", "ngr2": None, "ngr3": "TQ 1 ", "ngr4": None, "name": None}


# ------------------------------------------------------------------ helpers and determinism


def test_calendar_to_sortable():
    assert calendar_to_sortable("1/4/2019") == "20190401"
    assert calendar_to_sortable("null") is None


def test_sort_value_orders_nulls_numbers_dates_then_text():
    values = ["b", "10", "31/12/2019", None, "9", "01/02/2020", "null", "a"]
    assert sorted(values, key=sort_value) == [None, "null", "9", "10", "31/12/2019", "01/02/2020", "a", "b"]


def test_the_same_rows_in_any_order_give_the_same_json():
    """The reader sorts every table: whatever order the database returns, the JSON is the same."""
    orders = {
        "versions": ("ISSUE_NO", "INCR_NO"),
        "purposes": ("AABV_ISSUE_NO", "AABV_INCR_NO", "ID"),
        "conditions": ("AABP_ID", "DISP_ORD", "ID"),
        "parties": ("ID",),
        "addresses": ("ID",),
    }
    base = licence_rows()
    expected = json_text(
        permit_licence(replace(base, **{k: sort_rows(getattr(base, k), o) for k, o in orders.items()}), TODAY).data
    )
    for seed in range(5):
        shuffled = {k: random.Random(seed).sample(getattr(base, k), len(getattr(base, k))) for k in orders}
        rows = replace(base, **{k: sort_rows(v, orders[k]) for k, v in shuffled.items()})
        assert json_text(permit_licence(rows, TODAY).data) == expected
    assert json_text(metadata(base)) == json_text(metadata(licence_rows()))


def test_each_return_of_a_format_has_the_format_metadata_and_its_own_cycle_flags():
    base = licence_rows()
    ended = {**base.return_versions[0], "EFF_END_DATE": "31/03/2021"}  # its last cycle is final
    logs = [
        row(ARTY_ID="500", FGAC_REGION_CODE="1", DATE_FROM=f"01/04/{y}", DATE_TO=f"31/03/{y + 1}")
        for y in (2018, 2019, 2020)
    ]
    rows = replace(base, return_versions=[ended], form_logs=logs)
    returns = licence_returns(rows, TODAY)
    assert [(r.start_date.year, r.metadata["isFinal"]) for r in returns] == [(2018, False), (2019, False), (2020, True)]
    for r in returns:
        cycle = replace(a_return(), is_current=r.metadata["isCurrent"], is_final=r.metadata["isFinal"])
        assert r.metadata == return_metadata(rows, rows.return_formats[0], cycle)
