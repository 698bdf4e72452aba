"""What import-company writes for one NALD party, built from its rows: pure, no I/O.

The party becomes a ``crm_v2`` company (and a contact unless it is an
organisation); its licence versions, invoice accounts and returns-to roles
give its addresses, invoice accounts and the company's links to them.

Legacy sources (DEFRA/water-abstraction-import at fdca9b5, 2024-01):
``src/modules/licence-import/transform/company.js`` (transformCompany) and
``transform/mappers/``: ``company.js`` (mapName, mapCompany), ``contact.js``,
``address.js``, ``invoice-account.js`` (mapInvoiceAccounts,
getAgentCompanyExternalId, getNormalisedName), ``company-address.js``,
``company-contact.js``, ``roles.js``, ``date.js``, ``str.js``; ``load/company.js``
(which addresses are written); ``mergeHistory`` of
@envage/water-abstraction-helpers ``src/charging/merge-history.js``.

Changed from the legacy, each marked *Changed* where it happens:

- The addresses written are de-duplicated by external id (the legacy's
  ``new Set(arr, fn)`` ignored ``fn``, so an address used twice was upserted
  twice, in parallel).
- Two transfers of one invoice account on the same day: the later in a fixed
  order wins (the legacy's sort left their order, and so the row kept for
  that start date, to chance, and gave the other an end before its start).
- A returns-to address with one open role stays open (the legacy took the
  latest end date of the ended roles).
- A link to an address missing from NALD_ADDRESSES, or with no start date,
  is left out and reported (the legacy failed the whole company on it).
- An invoice account's agent company is written with the account (the
  legacy linked it only if that party had been imported already, so the
  link depended on the order of the queue).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from ...nald import values
from .company_rows import CompanyRows

Row = dict[str, Any]

ROLE_LICENCE_HOLDER = "licenceHolder"
ROLE_BILLING = "billing"
ROLE_RETURNS_TO = "returnsTo"
ROLE_ADDITIONAL_CONTACT = "additionalContact"
# Every crm_v2.roles row WRLS expects (queue-companies creates the missing ones).
ROLES = (ROLE_LICENCE_HOLDER, ROLE_RETURNS_TO, ROLE_BILLING, ROLE_ADDITIONAL_CONTACT)
# NALD_LIC_ROLES.ALRT_CODE -> crm_v2 role; the other codes give no company address.
# Looked up with NULL codes too.
NALD_ROLES: dict[str | None, str] = {"RT": ROLE_RETURNS_TO}


# --------------------------------------------------------------------------- output


@dataclass(frozen=True)
class Company:
    external_id: str
    name: str
    type: str  # person, organisation


@dataclass(frozen=True)
class Contact:
    external_id: str
    salutation: str | None
    initials: str | None
    first_name: str | None
    last_name: str | None


@dataclass(frozen=True)
class Address:
    external_id: str
    address_1: str | None
    address_2: str | None
    address_3: str | None
    address_4: str | None
    town: str | None
    county: str | None
    postcode: str | None
    country: str | None


@dataclass(frozen=True)
class InvoiceAccountAddress:
    start_date: date
    end_date: date | None
    address: str  # address external id
    agent_company: str | None = None  # company external id


@dataclass(frozen=True)
class InvoiceAccount:
    number: str  # IAS_CUST_REF
    start_date: date
    addresses: tuple[InvoiceAccountAddress, ...]
    end_date: date | None = None


@dataclass(frozen=True)
class CompanyLink:
    """A company_contacts or company_addresses row: ``target`` is the contact's or address's external id."""

    role: str
    start_date: date | None  # None: undated, which transform_company leaves out and reports
    end_date: date | None
    target: str


@dataclass(frozen=True)
class CompanyImport:
    company: Company
    contact: Contact | None = None
    agents: tuple[Company, ...] = ()  # agent companies of the invoice accounts, written with them
    addresses: tuple[Address, ...] = ()  # every address linked below, once each
    invoice_accounts: tuple[InvoiceAccount, ...] = ()
    company_contacts: tuple[CompanyLink, ...] = ()
    company_addresses: tuple[CompanyLink, ...] = ()
    # Left out: links to addresses NALD lacks ("region:id"), links with no start date ("role region:id").
    missing_addresses: tuple[str, ...] = field(default=())
    undated_links: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------- values


def nald_date(value: Any, what: str = "date") -> date | None:
    """A DD/MM/YYYY date, or ``None`` for NULL (legacy date.mapNaldDate); ``ValueError`` naming ``what``."""
    try:
        return values.nald_date(value)
    except ValueError as e:
        raise ValueError(f"{what} {e}") from None


def transfer_date(value: Any) -> date:
    """IAS_XFER_DATE (``DD/MM/YYYY HH:MM:SS``) as a date, the time dropped (legacy date.mapTransferDate)."""
    day = nald_date(value, "IAS_XFER_DATE")
    if day is None:
        raise ValueError("IAS_XFER_DATE is null")
    return day


def external_id(region: Any, id_: Any) -> str:
    return f"{region}:{id_}"


def _min(values: Iterable[date | None]) -> date | None:
    """Earliest of the dates given, ignoring ``None`` (legacy date.getMinDate)."""
    return min((v for v in values if v is not None), default=None)


# --------------------------------------------------------------------------- parties and addresses


def company_name(party: Row) -> str:
    """Salutation, forename (initials when there is none) and name, space-separated (legacy mapName)."""
    first = party.get("FORENAME") if values.text(party.get("FORENAME")) is not None else party.get("INITIALS")
    parts = (values.text(v) for v in (party.get("SALUTATION"), first, party.get("NAME")))
    return " ".join(p for p in parts if p)


def map_company(party: Row) -> Company:
    return Company(
        external_id=external_id(party["FGAC_REGION_CODE"], party["ID"]),
        name=company_name(party),
        type="person" if party.get("APAR_TYPE") == "PER" else "organisation",
    )


def map_contact(party: Row) -> Contact | None:
    """The party as a contact; ``None`` for an organisation (``APAR_TYPE`` ``ORG``, legacy mapContact)."""
    if party.get("APAR_TYPE") == "ORG":
        return None
    return Contact(
        external_id=external_id(party["FGAC_REGION_CODE"], party["ID"]),
        salutation=values.text(party.get("SALUTATION")),
        initials=values.text(party.get("INITIALS")),
        first_name=values.text(party.get("FORENAME")),
        last_name=values.text(party.get("NAME")),
    )


def map_address(row: Row) -> Address:
    return Address(
        external_id=external_id(row["FGAC_REGION_CODE"], row["ID"]),
        **{f"address_{n}": values.text(row.get(f"ADDR_LINE{n}")) for n in range(1, 5)},
        town=values.text(row.get("TOWN")),
        county=values.text(row.get("COUNTY")),
        postcode=values.text(row.get("POSTCODE")),
        country=values.text(row.get("COUNTRY")),
    )


# --------------------------------------------------------------------------- invoice accounts


def normalised_name(name: str | None) -> str:
    """Lower case, trimmed, a final "ltd"/"ltd." as "limited" (legacy getNormalisedName)."""
    return re.sub(r"ltd\.?$", "limited", (name or "").strip().lower(), count=1)


def agent_company_id(holder: Row, row: Row, invoice_party: Row) -> str | None:
    """The invoice account's party as an agent: when it differs from the holder in both id and name."""
    different_id = holder["ID"] != row["ACON_APAR_ID"]
    different_name = normalised_name(holder.get("NAME")) != normalised_name(invoice_party.get("NAME"))
    return external_id(row["FGAC_REGION_CODE"], row["ACON_APAR_ID"]) if different_id and different_name else None


def merge_history(entries: list[InvoiceAccountAddress]) -> list[InvoiceAccountAddress]:
    """Adjacent entries alike but for their dates become one (helpers' charging.mergeHistory).

    "Adjacent": the earlier is open-ended or ends the day before the later starts.
    """
    merged: list[InvoiceAccountAddress] = []
    for entry in entries:
        if merged:
            last = merged[-1]
            alike = (last.address, last.agent_company) == (entry.address, entry.agent_company)
            adjacent = last.end_date is None or last.end_date == entry.start_date - timedelta(days=1)
            if alike and adjacent:
                merged[-1] = replace(last, end_date=entry.end_date)
                continue
        merged.append(entry)
    return merged


def invoice_account_history(rows: list[Row], holder: Row, parties: dict[str, Row]) -> list[InvoiceAccountAddress]:
    """One invoice account's addresses: each transfer runs to the day before the next.

    *Changed*: rows are ordered by transfer date, then address and party ids
    (numerically where they are numbers), and a transfer followed by another
    on the same day is dropped, so one row is kept per start date.
    """
    ordered = sorted(
        rows,
        key=lambda r: (
            transfer_date(r["IAS_XFER_DATE"]),
            _id_key(r.get("ACON_AADD_ID")),
            _id_key(r.get("ACON_APAR_ID")),
        ),
    )
    entries = []
    for i, row in enumerate(ordered):
        start = transfer_date(row["IAS_XFER_DATE"])
        end = transfer_date(ordered[i + 1]["IAS_XFER_DATE"]) - timedelta(days=1) if i + 1 < len(ordered) else None
        if end is not None and end < start:
            continue
        entries.append(
            InvoiceAccountAddress(
                start_date=start,
                end_date=end,
                address=external_id(row["FGAC_REGION_CODE"], row["ACON_AADD_ID"]),
                agent_company=agent_company_id(holder, row, parties[row["ACON_APAR_ID"]]),
            )
        )
    return merge_history(entries)


def _id_key(value: Any) -> tuple[int, int, str]:
    text = "" if value is None else str(value)
    return (0, int(text), text) if text.isdigit() else (1, 0, text)


def map_invoice_accounts(rows: list[Row], holder: Row, parties: dict[str, Row]) -> list[InvoiceAccount]:
    """One invoice account per IAS_CUST_REF, starting with its first transfer, open-ended (legacy)."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row["IAS_CUST_REF"]].append(row)
    accounts = []
    for number in sorted(groups):
        history = invoice_account_history(groups[number], holder, parties)
        accounts.append(InvoiceAccount(number=number, start_date=history[0].start_date, addresses=tuple(history)))
    return accounts


# --------------------------------------------------------------------------- company addresses and contacts


def _version_end(row: Row) -> date | None:
    """A licence version's end: the earliest of its own end and its licence's expiry, revocation, lapse."""
    return _min(nald_date(row.get(c), c) for c in ("EFF_END_DATE", "EXPIRY_DATE", "REV_DATE", "LAPSED_DATE"))


def _open_or_latest(ends: list[date | None]) -> date | None:
    """``None`` (open) if any end is, else the latest."""
    known = [e for e in ends if e is not None]
    return max(known) if len(known) == len(ends) else None


def licence_holder_addresses(versions: list[Row]) -> list[tuple[str, date | None, date | None]]:
    """(address external id, start, end) per holder address: the widest range of its versions (legacy)."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in versions:
        groups[external_id(row["FGAC_REGION_CODE"], row["ACON_AADD_ID"])].append(row)
    return [
        (
            address,
            _min(nald_date(r.get("EFF_ST_DATE"), "EFF_ST_DATE") for r in rows),
            _open_or_latest([_version_end(r) for r in rows]),
        )
        for address, rows in groups.items()
    ]


def billing_addresses(invoice_rows: list[Row]) -> list[tuple[str, date | None, date | None]]:
    """(address external id, start, None) per invoice account address: from its first transfer (legacy)."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in invoice_rows:
        groups[external_id(row["FGAC_REGION_CODE"], row["ACON_AADD_ID"])].append(row)
    return [(address, min(transfer_date(r["IAS_XFER_DATE"]) for r in rows), None) for address, rows in groups.items()]


def returns_to_addresses(roles: list[Row]) -> list[tuple[str, date | None, date | None]]:
    """(address external id, start, end) per returns-to (RT) role address.

    *Changed*: the end is open if any of the address's roles is (the legacy
    took the latest end of the ended ones, closing an address still in use).
    """
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in roles:
        if NALD_ROLES.get(row.get("ALRT_CODE")) == ROLE_RETURNS_TO:
            groups[external_id(row["FGAC_REGION_CODE"], row["ACON_AADD_ID"])].append(row)
    return [
        (
            address,
            _min(nald_date(r.get("EFF_ST_DATE"), "EFF_ST_DATE") for r in rows),
            _open_or_latest([nald_date(r.get("EFF_END_DATE"), "EFF_END_DATE") for r in rows]),
        )
        for address, rows in groups.items()
    ]


def company_contacts(contact: Contact | None, versions: list[Row], invoice_rows: list[Row]) -> list[CompanyLink]:
    """The person's own contact as licence holder (from the first version) and billing contact (from the
    first transfer), open-ended, each only if it has versions / invoice accounts (legacy mapCompanyContacts)."""
    if contact is None:
        return []
    links = []
    if versions:
        start = _min(nald_date(r.get("EFF_ST_DATE"), "EFF_ST_DATE") for r in versions)
        links.append(CompanyLink(ROLE_LICENCE_HOLDER, start, None, contact.external_id))
    if invoice_rows:
        start = min(transfer_date(r["IAS_XFER_DATE"]) for r in invoice_rows)
        links.append(CompanyLink(ROLE_BILLING, start, None, contact.external_id))
    return links


# --------------------------------------------------------------------------- the company


def transform_company(rows: CompanyRows) -> CompanyImport:
    """Everything import-company writes for the party of ``rows``.

    Raises ValueError for a date the rules cannot read.
    """
    party = rows.party
    company = map_company(party)
    contact = map_contact(party)
    parties = {p["ID"]: p for p in rows.invoice_parties}
    # The legacy's inner join on the invoice account's party.
    invoice_rows = [r for r in rows.invoice_accounts if r.get("ACON_APAR_ID") in parties]
    nald_addresses = {external_id(a["FGAC_REGION_CODE"], a["ID"]): a for a in rows.addresses}

    missing: set[str] = set()
    undated: list[str] = []

    def known(address: str) -> bool:
        if address in nald_addresses:
            return True
        missing.add(address)
        return False

    company_addresses = []
    for role, found in (
        (ROLE_LICENCE_HOLDER, licence_holder_addresses(rows.licence_versions)),
        (ROLE_BILLING, billing_addresses(invoice_rows)),
        (ROLE_RETURNS_TO, returns_to_addresses(rows.licence_roles)),
    ):
        for address, start, end in sorted(found, key=lambda f: party_key(f[0])):
            if not known(address):
                continue
            if start is None:
                undated.append(f"{role} {address}")
                continue
            company_addresses.append(CompanyLink(role, start, end, address))

    invoice_accounts = [
        replace(account, addresses=tuple(a for a in account.addresses if known(a.address)))
        for account in map_invoice_accounts(invoice_rows, party, parties)
    ]

    contacts = []
    for link in company_contacts(contact, rows.licence_versions, invoice_rows):
        if link.start_date is None:
            undated.append(f"{link.role} {link.target}")
        else:
            contacts.append(link)

    agent_ids = {a.agent_company for account in invoice_accounts for a in account.addresses} - {None}
    agents = sorted(
        (map_company(p) for p in parties.values() if external_id(p["FGAC_REGION_CODE"], p["ID"]) in agent_ids),
        key=lambda c: party_key(c.external_id),
    )
    # *Changed*: each address once (the legacy's Set kept duplicates).
    used = {link.target for link in company_addresses}
    used |= {a.address for account in invoice_accounts for a in account.addresses}
    addresses = tuple(map_address(nald_addresses[a]) for a in sorted(used, key=party_key))

    return CompanyImport(
        company=company,
        contact=contact,
        agents=tuple(agents),
        addresses=addresses,
        invoice_accounts=tuple(invoice_accounts),
        company_contacts=tuple(contacts),
        company_addresses=tuple(company_addresses),
        missing_addresses=tuple(sorted(missing, key=party_key)),
        undated_links=tuple(undated),
    )


def party_key(value: str) -> tuple:
    """Sort key of an external id ``region:id``: numerically where the parts are numbers."""
    return tuple(_id_key(part) for part in value.split(":", 1))
