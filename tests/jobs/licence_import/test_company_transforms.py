"""The company mapping rules, from plain NALD rows (legacy transform/company.js and its mappers)."""

from __future__ import annotations

import random
from datetime import date

import pytest

from wrls_actors.jobs.licence_import.company_rows import CompanyRows
from wrls_actors.jobs.licence_import.company_transforms import (
    Address,
    Company,
    CompanyLink,
    Contact,
    InvoiceAccountAddress,
    company_name,
    map_address,
    map_company,
    map_contact,
    merge_history,
    nald_date,
    normalised_name,
    transfer_date,
    transform_company,
)

NULL = "null"


def party(id_: str = "1001", **values) -> dict:
    return {
        "ID": id_,
        "FGAC_REGION_CODE": "1",
        "APAR_TYPE": "PER",
        "NAME": "DOE",
        "SALUTATION": "SIR",
        "INITIALS": "J",
        "FORENAME": "JOHN",
        **values,
    }


def org(id_: str, name: str) -> dict:
    return party(id_, APAR_TYPE="ORG", NAME=name, SALUTATION=NULL, INITIALS=NULL, FORENAME=NULL)


def address(id_: str, **values) -> dict:
    return {
        "ID": id_,
        "FGAC_REGION_CODE": "1",
        "ADDR_LINE1": f"{id_} MANOR FARM",
        "ADDR_LINE2": "BUTTERCUP LANE",
        "ADDR_LINE3": NULL,
        "ADDR_LINE4": NULL,
        "TOWN": "TESTINGTON",
        "COUNTY": "TESTINGSHIRE",
        "POSTCODE": "TT1 1TT",
        "COUNTRY": NULL,
        **values,
    }


def version(start: str, end: str = NULL, address_id: str = "1000", **values) -> dict:
    return {
        "AABL_ID": "123",
        "FGAC_REGION_CODE": "1",
        "ISSUE_NO": "100",
        "INCR_NO": "1",
        "STATUS": "CURR",
        "EFF_ST_DATE": start,
        "EFF_END_DATE": end,
        "ACON_APAR_ID": "1001",
        "ACON_AADD_ID": address_id,
        "EXPIRY_DATE": NULL,
        "REV_DATE": NULL,
        "LAPSED_DATE": NULL,
        **values,
    }


def invoice(ref: str, transferred: str, address_id: str = "1000", party_id: str = "1001") -> dict:
    return {
        "IAS_CUST_REF": ref,
        "ALHA_ACC_NO": "20001",
        "FGAC_REGION_CODE": "1",
        "IAS_XFER_DATE": transferred,
        "ACON_APAR_ID": party_id,
        "ACON_AADD_ID": address_id,
    }


def role(code: str, start: str, end: str = NULL, address_id: str = "1002") -> dict:
    return {
        "AABL_ID": "123",
        "FGAC_REGION_CODE": "1",
        "ALRT_CODE": code,
        "ACON_APAR_ID": "1001",
        "ACON_AADD_ID": address_id,
        "EFF_ST_DATE": start,
        "EFF_END_DATE": end,
    }


def company_rows(**values) -> CompanyRows:
    holder = party()
    values.setdefault("invoice_parties", [holder])
    values.setdefault("addresses", [address(a) for a in ("1000", "1001", "1002")])
    return CompanyRows(party=values.pop("party", holder), **values)


# --------------------------------------------------------------------------- parties, addresses, dates


@pytest.mark.parametrize(
    "values, name",
    [
        ({}, "SIR JOHN DOE"),
        ({"FORENAME": NULL}, "SIR J DOE"),  # no forename: the initials
        ({"FORENAME": None}, "SIR J DOE"),  # an empty CSV field is a missing forename too
        ({"SALUTATION": NULL, "FORENAME": NULL, "INITIALS": NULL}, "DOE"),
        ({"SALUTATION": NULL, "FORENAME": NULL, "INITIALS": NULL, "NAME": NULL}, ""),
    ],
)
def test_company_name_is_salutation_forename_or_initials_and_name(values, name):
    assert company_name(party(**values)) == name


def test_a_person_is_a_person_company_with_a_contact_and_an_organisation_has_no_contact():
    assert map_company(party(FGAC_REGION_CODE="2", ID="5")) == Company("2:5", "SIR JOHN DOE", "person")
    assert map_contact(party(FGAC_REGION_CODE="2", ID="5", FORENAME=NULL)) == Contact(
        external_id="2:5", salutation="SIR", initials="J", first_name=None, last_name="DOE"
    )
    big_co = org("1000", "BIG CO LTD")
    assert map_company(big_co) == Company("1:1000", "BIG CO LTD", "organisation")
    assert map_contact(big_co) is None


def test_a_party_of_another_type_is_an_organisation_with_a_contact_as_in_the_legacy():
    other = party(APAR_TYPE=NULL)
    assert map_company(other).type == "organisation"
    assert map_contact(other) is not None


def test_an_address_keeps_its_lines_with_null_as_none_and_region_id_as_external_id():
    assert map_address(address("1000", FGAC_REGION_CODE="3", COUNTRY="ENGLAND")) == Address(
        external_id="3:1000",
        address_1="1000 MANOR FARM",
        address_2="BUTTERCUP LANE",
        address_3=None,
        address_4=None,
        town="TESTINGTON",
        county="TESTINGSHIRE",
        postcode="TT1 1TT",
        country="ENGLAND",
    )


def test_dates_nald_and_transfer_formats():
    assert nald_date("05/04/2016") == date(2016, 4, 5)
    assert nald_date("null") is None and nald_date(None) is None
    assert transfer_date("05/04/2016 11:24:02") == date(2016, 4, 5)
    assert transfer_date("5/4/2016") == date(2016, 4, 5)
    for bad in ("2016-04-05", "31/02/2016", "05/04/2016 later"):
        with pytest.raises(ValueError):
            transfer_date(bad)
    with pytest.raises(ValueError, match="EFF_ST_DATE '2016-04-05'"):
        nald_date("2016-04-05", "EFF_ST_DATE")


def test_values_read_by_the_shared_nald_rules():
    # NULL in any case or blank, a date with a time after it: read as every other job reads them.
    assert nald_date("") is None and nald_date("NULL") is None
    assert nald_date("05/04/2016 11:24:02") == date(2016, 4, 5)
    assert map_contact(party("9", SALUTATION="", INITIALS="NULL", FORENAME=" ", NAME="Smith")) == Contact(
        external_id="1:9", salutation=None, initials=None, first_name=None, last_name="Smith"
    )
    assert company_name(party("9", SALUTATION="Mr", INITIALS="J", FORENAME="", NAME="Smith")) == "Mr J Smith"


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("Big Co Ltd.", "BIG CO LIMITED", True),
        ("  Big Co Ltd ", "big co limited", True),
        ("Big Co Ltd", "Big Co", False),
        ("Ltd Holdings", "limited holdings", False),  # only a final "ltd"
    ],
)
def test_normalised_names(a, b, same):
    assert (normalised_name(a) == normalised_name(b)) is same


# --------------------------------------------------------------------------- invoice accounts


def test_invoice_accounts_one_per_customer_reference_with_address_history_and_agent():
    """The legacy's transformCompany test, with the holder as the party whose accounts they are."""
    rows = company_rows(
        invoice_accounts=[
            invoice("A1234", "02/04/2015", "1000"),
            invoice("A1234", "06/07/2015", "1001"),
            invoice("B7890", "13/08/2015 10:00:00", "1001", party_id="1000"),
        ],
        invoice_parties=[party(), org("1000", "Accurate Accountancy Plc.")],
        licence_versions=[
            version("02/04/2015", "05/07/2015"),
            version("06/07/2015", "12/08/2015"),
            version("13/08/2015"),
        ],
    )

    result = transform_company(rows)

    assert result.company == Company("1:1001", "SIR JOHN DOE", "person")
    first, second = result.invoice_accounts
    assert (first.number, first.start_date, first.end_date) == ("A1234", date(2015, 4, 2), None)
    assert first.addresses == (
        InvoiceAccountAddress(date(2015, 4, 2), date(2015, 7, 5), "1:1000", None),
        InvoiceAccountAddress(date(2015, 7, 6), None, "1:1001", None),
    )
    assert (second.number, second.start_date) == ("B7890", date(2015, 8, 13))
    assert second.addresses == (InvoiceAccountAddress(date(2015, 8, 13), None, "1:1001", "1:1000"),)
    assert result.agents == (Company("1:1000", "Accurate Accountancy Plc.", "organisation"),)
    assert [a for a in result.company_addresses if a.role == "licenceHolder"] == [
        CompanyLink("licenceHolder", date(2015, 4, 2), None, "1:1000")
    ]
    assert [a for a in result.company_addresses if a.role == "billing"] == [
        CompanyLink("billing", date(2015, 4, 2), None, "1:1000"),
        CompanyLink("billing", date(2015, 7, 6), None, "1:1001"),
    ]
    assert result.company_contacts == (
        CompanyLink("licenceHolder", date(2015, 4, 2), None, "1:1001"),
        CompanyLink("billing", date(2015, 4, 2), None, "1:1001"),
    )


@pytest.mark.parametrize(
    "invoice_party, agent",
    [
        (org("1000", "Accurate Accountancy"), "1:1000"),  # another party, another name: an agent
        (party("1000"), None),  # another party with the holder's name (DOE): not an agent
        (org("1000", "Doe"), None),
    ],
)
def test_an_agent_differs_from_the_holder_in_both_id_and_name(invoice_party, agent):
    rows = company_rows(
        invoice_accounts=[invoice("A1", "01/01/2020", party_id="1000")], invoice_parties=[party(), invoice_party]
    )
    assert transform_company(rows).invoice_accounts[0].addresses[0].agent_company == agent


def test_the_same_holder_name_normalised_is_not_an_agent():
    holder = org("1001", "Big Co Ltd.")
    rows = company_rows(
        party=holder,
        invoice_accounts=[invoice("A1", "01/01/2020", party_id="1000")],
        invoice_parties=[holder, org("1000", "BIG CO LIMITED")],
    )
    assert transform_company(rows).invoice_accounts[0].addresses[0].agent_company is None


def test_an_invoice_account_whose_party_is_not_in_nald_is_left_out_as_the_legacys_join_did():
    rows = company_rows(invoice_accounts=[invoice("A1", "01/01/2020"), invoice("A2", "01/01/2020", party_id="77")])
    assert [a.number for a in transform_company(rows).invoice_accounts] == ["A1"]


def test_transfers_to_the_same_address_and_agent_merge_into_one_range():
    rows = company_rows(
        invoice_accounts=[
            invoice("A1", "01/01/2010"),
            invoice("A1", "01/01/2012"),
            invoice("A1", "01/01/2014", "1001"),
            invoice("A1", "01/01/2016"),
        ]
    )
    assert transform_company(rows).invoice_accounts[0].addresses == (
        InvoiceAccountAddress(date(2010, 1, 1), date(2013, 12, 31), "1:1000"),
        InvoiceAccountAddress(date(2014, 1, 1), date(2015, 12, 31), "1:1001"),
        InvoiceAccountAddress(date(2016, 1, 1), None, "1:1000"),
    )


def test_merge_history_joins_only_adjacent_alike_ranges():
    a = InvoiceAccountAddress(date(2010, 1, 1), date(2010, 12, 31), "1:1")
    assert merge_history([a, InvoiceAccountAddress(date(2011, 1, 1), None, "1:1")]) == [
        InvoiceAccountAddress(date(2010, 1, 1), None, "1:1")
    ]
    gap = InvoiceAccountAddress(date(2011, 1, 2), None, "1:1")
    assert merge_history([a, gap]) == [a, gap]
    agent = InvoiceAccountAddress(date(2011, 1, 1), None, "1:1", "1:9")
    assert merge_history([a, agent]) == [a, agent]


def test_two_transfers_on_one_day_keep_one_row_for_that_start_whatever_their_order():
    """Changed: the legacy kept either, and gave the other an end the day before its start."""
    same_day = [
        invoice("A1", "01/01/2010"),
        invoice("A1", "01/01/2015 09:00:00", "1001"),
        invoice("A1", "01/01/2015 16:00:00", "1002"),
    ]
    for rows in (same_day, same_day[::-1]):
        assert transform_company(company_rows(invoice_accounts=rows)).invoice_accounts[0].addresses == (
            InvoiceAccountAddress(date(2010, 1, 1), date(2014, 12, 31), "1:1000"),
            InvoiceAccountAddress(date(2015, 1, 1), None, "1:1002"),
        )


# --------------------------------------------------------------------------- company addresses and contacts


def test_licence_holder_address_spans_its_versions_and_ends_with_the_licence():
    ended = [
        version("01/04/2000", "31/03/2010"),
        version("01/04/2010", NULL, EXPIRY_DATE="31/03/2030"),
        version("01/04/1995", "31/03/2000", address_id="1001"),
    ]
    result = transform_company(company_rows(licence_versions=ended))
    assert [a for a in result.company_addresses if a.role == "licenceHolder"] == [
        CompanyLink("licenceHolder", date(2000, 4, 1), date(2030, 3, 31), "1:1000"),
        CompanyLink("licenceHolder", date(1995, 4, 1), date(2000, 3, 31), "1:1001"),
    ]
    # The earliest of a version's end, expiry, revocation and lapse; open if one version is open.
    revoked = version("01/04/2000", "31/03/2020", REV_DATE="01/01/2015", LAPSED_DATE="01/06/2016")
    result = transform_company(company_rows(licence_versions=[revoked]))
    assert result.company_addresses[0].end_date == date(2015, 1, 1)
    result = transform_company(company_rows(licence_versions=[revoked, version("01/04/2020")]))
    assert result.company_addresses[0].end_date is None


def test_returns_to_addresses_come_from_rt_roles_only():
    rows = company_rows(
        licence_roles=[
            role("RT", "01/01/2020", "01/06/2020"),
            role("RT", "02/06/2020", NULL, "1001"),
            role("LC", "01/01/2019", NULL, "1000"),
            role("EN", "01/01/2019"),
        ]
    )
    assert transform_company(rows).company_addresses == (  # the legacy's mapper test, in address order
        CompanyLink("returnsTo", date(2020, 6, 2), None, "1:1001"),
        CompanyLink("returnsTo", date(2020, 1, 1), date(2020, 6, 1), "1:1002"),
    )


def test_a_returns_to_address_with_one_open_role_stays_open():
    """Changed: the legacy took the latest end of the ended roles."""
    rows = company_rows(
        licence_roles=[
            role("RT", "01/01/2015", "31/12/2016"),
            role("RT", "01/01/2017"),
            role("RT", "01/01/2010", "31/12/2011"),
        ]
    )
    assert transform_company(rows).company_addresses == (CompanyLink("returnsTo", date(2010, 1, 1), None, "1:1002"),)
    rows = company_rows(licence_roles=[role("RT", "01/01/2015", "31/12/2016"), role("RT", "01/01/2010", "31/12/2018")])
    assert transform_company(rows).company_addresses[0].end_date == date(2018, 12, 31)


def test_company_contacts_for_a_person_only_and_only_for_what_it_has():
    versions = [version("01/04/2015")]
    invoices = [invoice("A1", "01/01/2016 12:00:00")]
    assert transform_company(company_rows(licence_versions=versions)).company_contacts == (
        CompanyLink("licenceHolder", date(2015, 4, 1), None, "1:1001"),
    )
    assert transform_company(company_rows(invoice_accounts=invoices)).company_contacts == (
        CompanyLink("billing", date(2016, 1, 1), None, "1:1001"),
    )
    assert transform_company(company_rows()).company_contacts == ()
    holder = org("1001", "BIG CO LTD")
    result = transform_company(
        company_rows(party=holder, invoice_parties=[holder], licence_versions=versions, invoice_accounts=invoices)
    )
    assert result.contact is None and result.company_contacts == ()


def test_an_address_used_several_times_is_written_once():
    """The legacy's ``new Set(arr, fn)`` ignored ``fn``: each use was a separate upsert."""
    rows = company_rows(
        licence_versions=[version("01/04/2015")],
        invoice_accounts=[invoice("A1", "01/01/2016"), invoice("A2", "01/01/2016")],
        licence_roles=[role("RT", "01/01/2017", NULL, "1000")],
    )
    result = transform_company(rows)
    assert [a.external_id for a in result.addresses] == ["1:1000"]
    assert {a.role for a in result.company_addresses} == {"licenceHolder", "billing", "returnsTo"}


def test_links_to_missing_addresses_or_without_a_start_are_left_out_and_reported():
    """Changed: the legacy failed the whole company."""
    rows = company_rows(
        licence_versions=[version("01/04/2015", address_id="404"), version(NULL, NULL, "1001")],
        invoice_accounts=[invoice("A1", "01/01/2016", "404"), invoice("A1", "01/01/2018")],
        licence_roles=[role("RT", "01/01/2017", NULL, "405")],
    )
    result = transform_company(rows)
    assert result.missing_addresses == ("1:404", "1:405")
    assert result.undated_links == ("licenceHolder 1:1001",)
    assert result.company_addresses == (CompanyLink("billing", date(2018, 1, 1), None, "1:1000"),)
    # The account keeps its first transfer as its start; only the known address is linked.
    (account,) = result.invoice_accounts
    assert account.start_date == date(2016, 1, 1)
    assert account.addresses == (InvoiceAccountAddress(date(2018, 1, 1), None, "1:1000"),)
    assert [a.external_id for a in result.addresses] == ["1:1000"]


def test_the_same_rows_in_any_order_give_the_same_result():
    rows = company_rows(
        licence_versions=[
            version("01/04/2000", "31/03/2010"),
            version("01/04/2010"),
            version("01/04/1995", "31/03/2000", address_id="1001"),
        ],
        invoice_accounts=[
            invoice("A1", "01/01/2010"),
            invoice("A1", "01/01/2012", "1001", "1000"),
            invoice("B2", "01/01/2011", "1002"),
            invoice("A1", "01/01/2012", "1002"),
        ],
        invoice_parties=[party(), org("1000", "Agent")],
        licence_roles=[role("RT", "01/01/2020", "01/06/2020"), role("RT", "02/06/2020", NULL, "1001")],
    )
    expected = transform_company(rows)
    shuffle = random.Random(4)
    for _ in range(5):
        lists = {k: shuffle.sample(v, len(v)) for k, v in vars(rows).items() if isinstance(v, list)}
        assert transform_company(CompanyRows(party=rows.party, **lists)) == expected
