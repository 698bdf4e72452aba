"""One licence's NALD rows as the rows of water.licences, licence versions, purposes and
conditions, and crm_v2.documents and document roles: plain data in, plain data out.

Rules from DEFRA/water-abstraction-import (early 2024),
``src/modules/licence-import/transform/licence.js`` and its mappers
(``transform/mappers/{licence,document,role,roles,licence-version,
licence-purpose,purpose-condition,party,company,contact,address,date}.js``).

Foreign keys are left as external ids or NALD codes (``region:party``,
``region:address``, purpose codes): the writer resolves them, so these
functions need nothing but the rows.

Where this differs from the legacy (each noted where it happens):
- A date that is not ``DD/MM/YYYY`` fails the licence, naming the column; the
  legacy's non-strict moment parse wrote ``Invalid date`` or dropped it.
- The ``regions`` JSON holds ``null`` where NALD has its ``'null'`` string, and
  a ``null`` regionalChargeArea for an unknown prefix (the legacy wrote the
  string ``'null'`` and left the key out).
- Two document roles of one kind starting the same day are one row (the
  database key is document, role, start date): the legacy wrote both in
  parallel and whichever landed last won.
- A licence version carries its holder's company and address (the legacy
  added this in 2025; renewal invitations read it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ...nald import values
from ...nald.codes import VERSION_STATUSES
from .licence_import_rows import LicenceImportRows, Row

# transform/mappers/licence.js: the first two letters of AREP_EIUC_CODE.
REGIONAL_CHARGE_AREAS = {
    "AN": "Anglian",
    "MD": "Midlands",
    "NO": "Northumbria",
    "NW": "North West",
    "SO": "Southern",
    "SW": "South West (incl Wessex)",
    "TH": "Thames",
    "WL": "Wales",
    "YO": "Yorkshire",
}
LICENCE_HOLDER = "licenceHolder"
RETURNS_TO = "returnsTo"
# transform/mappers/roles.js: the only NALD role imported.
# Looked up with NULL codes too.
NALD_ROLES: dict[str | None, str] = {"RT": RETURNS_TO}


@dataclass(frozen=True)
class Licence:
    """A water.licences row (``region_code`` is the NALD region, mapped to region_id by the writer)."""

    licence_ref: str
    region_code: int
    external_id: str  # region:ID, the document's external id
    is_water_undertaker: bool
    regions: dict[str, Any]
    start_date: date
    expired_date: date | None
    lapsed_date: date | None
    revoked_date: date | None

    @property
    def end_date(self) -> date | None:
        """The earliest of the expiry, lapsed and revoked dates."""
        return min((d for d in (self.expired_date, self.lapsed_date, self.revoked_date) if d), default=None)


@dataclass(frozen=True)
class Document:
    """A crm_v2.documents row (regime 'water', type 'abstraction_licence')."""

    document_ref: str
    start_date: date
    end_date: date | None
    external_id: str


@dataclass(frozen=True)
class DocumentRole:
    """A crm_v2.document_roles row; parties and addresses as crm_v2 external ids."""

    role: str
    start_date: date
    end_date: date | None
    company_external_id: str | None
    contact_external_id: str | None
    address_external_id: str | None


@dataclass(frozen=True)
class LicenceVersion:
    external_id: str  # region:AABL_ID:ISSUE_NO:INCR_NO
    issue: int
    increment: int
    status: str
    start_date: date
    end_date: date | None
    company_external_id: str | None
    address_external_id: str | None


@dataclass(frozen=True)
class VersionPurpose:
    external_id: str  # region:ID
    version_external_id: str
    primary: str
    secondary: str
    use: str
    abstraction_period_start_day: int | None
    abstraction_period_start_month: int | None
    abstraction_period_end_day: int | None
    abstraction_period_end_month: int | None
    time_limited_start_date: date | None
    time_limited_end_date: date | None
    notes: str | None
    annual_quantity: Decimal | None


@dataclass(frozen=True)
class PurposeCondition:
    external_id: str  # ID:region:AABP_ID
    purpose_external_id: str
    code: str | None
    subcode: str | None
    param_1: str | None
    param_2: str | None
    notes: str | None


@dataclass(frozen=True)
class LicenceImport:
    licence: Licence
    document: Document
    roles: list[DocumentRole] = field(default_factory=list)
    versions: list[LicenceVersion] = field(default_factory=list)
    purposes: list[VersionPurpose] = field(default_factory=list)
    conditions: list[PurposeCondition] = field(default_factory=list)


# --------------------------------------------------------------------------- values


def _read(rule: Callable[[Any], Any], row: Mapping[str, Any], column: str, what: str) -> Any:
    """``rule`` applied to ``row[column]``; its ``ValueError`` names ``what`` and the column."""
    try:
        return rule(row.get(column))
    except ValueError as e:
        raise ValueError(f"{what}: {column} {e}") from None


def nald_date(row: Mapping[str, Any], column: str, what: str) -> date | None:
    return _read(values.nald_date, row, column, what)


def nald_int(row: Mapping[str, Any], column: str, what: str) -> int | None:
    return _read(values.integer, row, column, what)


def nald_decimal(row: Mapping[str, Any], column: str, what: str) -> Decimal | None:
    return _read(values.decimal, row, column, what)


def _external_id(*parts: Any) -> str:
    return ":".join(str(p) for p in parts)


def _version_number(version: Row) -> tuple[int, int]:
    what = f"licence version {_external_id(version['FGAC_REGION_CODE'], version['AABL_ID'])}"
    issue, increment = nald_int(version, "ISSUE_NO", what), nald_int(version, "INCR_NO", what)
    if issue is None or increment is None:
        raise ValueError(f"{what}: ISSUE_NO and INCR_NO are required")
    return issue, increment


# --------------------------------------------------------------------------- licence and document


def regions_json(licence: Row) -> dict[str, Any]:
    """The ``regions`` JSON of water.licences (transform/mappers/licence.js getRegionData)."""
    eiuc = values.text(licence.get("AREP_EIUC_CODE")) or ""
    return {
        "historicalAreaCode": values.text(licence.get("AREP_AREA_CODE")),
        "regionalChargeArea": REGIONAL_CHARGE_AREAS.get(eiuc[:2]),
        "standardUnitChargeCode": values.text(licence.get("AREP_SUC_CODE")),
        "localEnvironmentAgencyPlanCode": values.text(licence.get("AREP_LEAP_CODE")),
    }


def map_licence(licence: Row, versions: Iterable[Row]) -> Licence:
    """The water.licences row (mappers/licence.js mapLicence).

    The start date is ORIG_EFF_DATE, or when NALD has none the earliest start
    of the non-draft versions; a licence with neither cannot be stored
    (start_date is required), so it fails, as it did in the legacy.
    """
    ref = licence["LIC_NO"]
    what = f"licence {ref}"
    start = nald_date(licence, "ORIG_EFF_DATE", what)
    if start is None:
        starts = [nald_date(v, "EFF_ST_DATE", f"{what} version") for v in versions if v.get("STATUS") != "DRAFT"]
        start = min((s for s in starts if s is not None), default=None)
    if start is None:
        raise ValueError(f"{what}: no start date (ORIG_EFF_DATE is null and no non-draft version has a start date)")
    region = nald_int(licence, "FGAC_REGION_CODE", what)
    if region is None:
        raise ValueError(f"{what}: FGAC_REGION_CODE is null")
    return Licence(
        licence_ref=ref,
        region_code=region,
        external_id=_external_id(licence["FGAC_REGION_CODE"], licence["ID"]),
        is_water_undertaker=(values.text(licence.get("AREP_EIUC_CODE")) or "").endswith("SWC"),
        regions=regions_json(licence),
        start_date=start,
        expired_date=nald_date(licence, "EXPIRY_DATE", what),
        lapsed_date=nald_date(licence, "LAPSED_DATE", what),
        revoked_date=nald_date(licence, "REV_DATE", what),
    )


def map_document(licence: Licence) -> Document:
    """The crm_v2.documents row (mappers/document.js): the licence's dates, ended at its earliest end."""
    return Document(
        document_ref=licence.licence_ref,
        start_date=licence.start_date,
        end_date=licence.end_date,
        external_id=licence.external_id,
    )


def end_dates_changed(before: Mapping[str, Any] | None, licence: Licence) -> bool:
    """Whether an existing water.licences row's expired, lapsed or revoked date differs from NALD's.

    A licence imported for the first time has nothing to compare with, so no
    change (load/licence.js loadLicence).
    """
    if before is None:
        return False
    return (before.get("expired_date"), before.get("lapsed_date"), before.get("revoked_date")) != (
        licence.expired_date,
        licence.lapsed_date,
        licence.revoked_date,
    )


# --------------------------------------------------------------------------- document roles


class _Contacts:
    """The crm_v2 external ids of the licence's parties and addresses (mappers/party.js, address.js)."""

    def __init__(self, parties: Iterable[Row], addresses: Iterable[Row]) -> None:
        self.parties = {(p["FGAC_REGION_CODE"], p["ID"]): p for p in parties}
        self.addresses = {(a["FGAC_REGION_CODE"], a["ID"]) for a in addresses}

    def company(self, region: str, party_id: Any) -> str | None:
        """The company of any party found in NALD; none for a party missing from NALD_PARTIES."""
        return _external_id(region, party_id) if (region, party_id) in self.parties else None

    def contact(self, region: str, party_id: Any) -> str | None:
        """Only people are contacts: an organisation (APAR_TYPE 'ORG') has none (mappers/contact.js)."""
        party = self.parties.get((region, party_id))
        return _external_id(region, party_id) if party is not None and party.get("APAR_TYPE") != "ORG" else None

    def address(self, region: str, address_id: Any) -> str | None:
        return _external_id(region, address_id) if (region, address_id) in self.addresses else None


def is_replaced(version: Row, versions: Iterable[Row]) -> bool:
    """A later version (higher issue, then increment) starting the same day replaces it (mappers/role.js)."""
    number = _version_number(version)
    return any(other["EFF_ST_DATE"] == version["EFF_ST_DATE"] and _version_number(other) > number for other in versions)


def licence_holder_roles(document: Document, versions: list[Row], contacts: _Contacts) -> list[DocumentRole]:
    """One licenceHolder role per non-draft version that no later version replaced.

    Its dates are the version's, cut to the document's (the later start, the earlier end).
    """
    roles = []
    for version in sorted(versions, key=_version_number):
        if version.get("STATUS") == "DRAFT" or is_replaced(version, versions):
            continue
        what = f"licence {document.document_ref} version {_external_id(*_version_number(version))}"
        start = nald_date(version, "EFF_ST_DATE", what)
        end = nald_date(version, "EFF_END_DATE", what)
        region = version["FGAC_REGION_CODE"]
        roles.append(
            DocumentRole(
                role=LICENCE_HOLDER,
                start_date=max(d for d in (document.start_date, start) if d is not None),
                end_date=min((d for d in (document.end_date, end) if d is not None), default=None),
                company_external_id=contacts.company(region, version.get("ACON_APAR_ID")),
                contact_external_id=contacts.contact(region, version.get("ACON_APAR_ID")),
                address_external_id=contacts.address(region, version.get("ACON_AADD_ID")),
            )
        )
    return roles


def nald_roles(licence_ref: str, roles: Iterable[Row], contacts: _Contacts) -> list[DocumentRole]:
    """The NALD licence roles WRLS keeps: returns-to (ALRT_CODE 'RT'), ended ones too, with NALD's dates."""
    mapped = []
    for row in roles:
        role = NALD_ROLES.get(row.get("ALRT_CODE"))
        if role is None:
            continue
        what = f"licence {licence_ref} {row['ALRT_CODE']} role of party {row.get('ACON_APAR_ID')}"
        start = nald_date(row, "EFF_ST_DATE", what)
        if start is None:
            raise ValueError(f"{what}: EFF_ST_DATE is null")
        region = row["FGAC_REGION_CODE"]
        mapped.append(
            DocumentRole(
                role=role,
                start_date=start,
                end_date=nald_date(row, "EFF_END_DATE", what),
                company_external_id=contacts.company(region, row.get("ACON_APAR_ID")),
                contact_external_id=contacts.contact(region, row.get("ACON_APAR_ID")),
                address_external_id=contacts.address(region, row.get("ACON_AADD_ID")),
            )
        )
    return mapped


def one_role_per_start(roles: Iterable[DocumentRole]) -> list[DocumentRole]:
    """One role per (role, start date), the database key, in that order.

    Licence holders come in version order, so the later version wins; of
    returns-to roles starting the same day, the one ending last (or not at all)
    wins, then the higher party and address ids, so the choice never depends
    on row order.
    """

    def rank(role: DocumentRole) -> tuple:
        if role.role == LICENCE_HOLDER:
            return ()
        return (
            role.end_date is None,
            role.end_date or date.min,
            role.company_external_id or "",
            role.address_external_id or "",
        )

    chosen: dict[tuple[str, date], tuple[int, DocumentRole]] = {}
    for n, role in enumerate(roles):
        key = (role.role, role.start_date)
        if key not in chosen or (rank(role), n) >= (rank(chosen[key][1]), chosen[key][0]):
            chosen[key] = (n, role)
    return sorted((role for _, role in chosen.values()), key=lambda r: (r.role, r.start_date))


# --------------------------------------------------------------------------- versions, purposes, conditions


def map_version(version: Row, contacts: _Contacts) -> LicenceVersion:
    """A water.licence_versions row (mappers/licence-version.js)."""
    issue, increment = _version_number(version)
    external_id = _external_id(version["FGAC_REGION_CODE"], version["AABL_ID"], version["ISSUE_NO"], version["INCR_NO"])
    what = f"licence version {external_id}"
    status = VERSION_STATUSES.get(version.get("STATUS") or "")  # NULL: no status either
    if status is None:
        raise ValueError(f"{what}: unknown STATUS {version.get('STATUS')!r}")
    start = nald_date(version, "EFF_ST_DATE", what)
    if start is None:
        raise ValueError(f"{what}: EFF_ST_DATE is null")
    region = version["FGAC_REGION_CODE"]
    return LicenceVersion(
        external_id=external_id,
        issue=issue,
        increment=increment,
        status=status,
        start_date=start,
        end_date=nald_date(version, "EFF_END_DATE", what),
        company_external_id=contacts.company(region, version.get("ACON_APAR_ID")),
        address_external_id=contacts.address(region, version.get("ACON_AADD_ID")),
    )


def map_purpose(purpose: Row, version_external_id: str) -> VersionPurpose:
    """A water.licence_version_purposes row (mappers/licence-purpose.js).

    A null abstraction period part is stored as NULL (the legacy sent NaN, which failed).
    """
    external_id = _external_id(purpose["FGAC_REGION_CODE"], purpose["ID"])
    what = f"licence purpose {external_id}"
    codes = [values.text(purpose.get(c)) for c in ("APUR_APPR_CODE", "APUR_APSE_CODE", "APUR_APUS_CODE")]
    if None in codes:
        raise ValueError(f"{what}: a purpose code is null ({'/'.join(str(c) for c in codes)})")
    return VersionPurpose(
        external_id=external_id,
        version_external_id=version_external_id,
        primary=codes[0],
        secondary=codes[1],
        use=codes[2],
        abstraction_period_start_day=nald_int(purpose, "PERIOD_ST_DAY", what),
        abstraction_period_start_month=nald_int(purpose, "PERIOD_ST_MONTH", what),
        abstraction_period_end_day=nald_int(purpose, "PERIOD_END_DAY", what),
        abstraction_period_end_month=nald_int(purpose, "PERIOD_END_MONTH", what),
        time_limited_start_date=nald_date(purpose, "TIMELTD_ST_DATE", what),
        time_limited_end_date=nald_date(purpose, "TIMELTD_END_DATE", what),
        notes=values.text(purpose.get("NOTES")),
        annual_quantity=nald_decimal(purpose, "ANNUAL_QTY", what),
    )


def map_condition(condition: Row) -> PurposeCondition:
    """A water.licence_version_purpose_conditions row (mappers/purpose-condition.js)."""
    region, purpose = condition["FGAC_REGION_CODE"], condition["AABP_ID"]
    return PurposeCondition(
        external_id=_external_id(condition["ID"], region, purpose),
        purpose_external_id=_external_id(region, purpose),
        code=condition.get("ACIN_CODE"),
        subcode=condition.get("ACIN_SUBCODE"),
        param_1=values.text(condition.get("PARAM1")),
        param_2=values.text(condition.get("PARAM2")),
        notes=values.text(condition.get("TEXT")),
    )


def _unique(rows: list, what: str) -> list:
    seen: set[str] = set()
    for row in rows:
        if row.external_id in seen:
            raise ValueError(f"two NALD rows give the same {what} {row.external_id}")
        seen.add(row.external_id)
    return rows


# --------------------------------------------------------------------------- the whole licence


def transform_licence(rows: LicenceImportRows) -> LicenceImport:
    """Everything import-licence writes for one licence (transform/licence.js transformLicence).

    Purposes belong to a non-draft version with the same issue and increment
    (as numbers); the others (of draft versions) are left out, and so are
    their conditions. ``ValueError`` names the row of any value the rules
    cannot read.
    """
    versions = [v for v in rows.versions if v.get("STATUS") != "DRAFT"]
    licence = map_licence(rows.licence, versions)
    document = map_document(licence)
    contacts = _Contacts(rows.parties, rows.addresses)
    roles = one_role_per_start(
        [*licence_holder_roles(document, versions, contacts), *nald_roles(licence.licence_ref, rows.roles, contacts)]
    )
    mapped_versions = _unique(
        sorted((map_version(v, contacts) for v in versions), key=lambda v: (v.issue, v.increment)), "licence version"
    )
    by_number = {(v.issue, v.increment): v.external_id for v in mapped_versions}
    purposes = []
    for purpose in rows.purposes:
        what = f"licence purpose {_external_id(purpose['FGAC_REGION_CODE'], purpose['ID'])}"
        number = (nald_int(purpose, "AABV_ISSUE_NO", what), nald_int(purpose, "AABV_INCR_NO", what))
        if number in by_number:
            purposes.append(map_purpose(purpose, by_number[number]))
    purposes = _unique(sorted(purposes, key=lambda p: (p.version_external_id, p.external_id)), "licence purpose")
    kept = {p.external_id for p in purposes}
    conditions = [map_condition(c) for c in rows.conditions]
    conditions = _unique(
        sorted(
            (c for c in conditions if c.purpose_external_id in kept),
            key=lambda c: (c.purpose_external_id, c.external_id),
        ),
        "purpose condition",
    )
    return LicenceImport(
        licence=licence,
        document=document,
        roles=roles,
        versions=mapped_versions,
        purposes=purposes,
        conditions=conditions,
    )
