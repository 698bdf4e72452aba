"""What import-licence writes for one licence, built from its NALD rows: pure, no I/O.

- :func:`permit_licence`: the ``permit.licence`` row, whose ``licence_data_value``
  is the legacy "permit JSON" (the NALD_ABS_LICENCES row plus ``data``: versions,
  current_version, cams, roles, purposes). The water service reads this JSON,
  so its structure and key names are the legacy ones, including the odd ones
  (a current version's ``licence.party`` is a list; a role's contact numbers
  are under ``array``, the name PostgreSQL gave the unaliased column).
- :func:`document_metadata`: the ``crm.document_header`` metadata.
- :func:`return_metadata` and :func:`return_frequency`: a return's
  ``metadata`` and ``returns_frequency`` (its dates and flags come from
  :mod:`return_cycles`, the joins from :mod:`returns`).

Legacy sources (DEFRA/water-abstraction-import at fdca9b5, 2024-01, and
@envage/water-abstraction-helpers 4.8.3):

- ``src/modules/nald-import/transform-permit.js`` (getLicenceJson,
  getCurrentVersionJson, getVersionsJson, getPurposesJson, getReturnFormats,
  buildPermitRepoPacket, getLatestVersion) and ``lib/end-date.js`` (getEndDate)
- ``src/modules/nald-import/transform-crm.js`` (buildCRMPacket,
  buildCRMMetadata, contactsFormatter, pruneNullString)
- ``src/modules/nald-import/transform-returns.js`` (buildReturnsPacket),
  ``lib/transform-returns-helpers.js`` (formatReturnMetadata, mapPeriod,
  mapProductionMonth, getPurposeAlias)
- ``src/modules/nald-import/lib/nald-queries/sql/*.js`` (the joins and filters
  the SQL made: getCurrentVersion, getRoles, getPurposePoints, getFormats, ...)
- helpers ``src/nald/formatting.js`` (crmNameFormatter, addressFormatter,
  formatAbstractionPoint), ``src/nald/index.js`` (findCurrent, transformNull,
  trimValues), ``src/nald/dates.js`` (calendarToSortable)
- npm ``sentence-case`` 3.0.4 / ``no-case`` 3.0.4 (role names)

Every result is JSON-serialisable (str, int, bool, None, list, dict) with a
fixed key order; given the same :class:`LicenceRows` and ``today`` it is the
same, so re-importing an unchanged extract writes identical JSON. Where the
legacy left an order to the database, the order of :class:`LicenceRows` (see
:func:`wrls_actors.nald.rows.sort_rows`) is used.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ...model import nald
from ...nald.formats import is_summer_format
from ...nald.rows import sort_value
from ...nald.values import is_null, leading_integer, nald_date, text
from ..errors import JobDataError
from .licence_rows import LicenceRows, Row
from .return_cycles import NaldReturn

#: The permit JSON's format version (legacy ``licenceRow.vmlVersion = 2``).
VML_VERSION = 2

#: NALD_RET_FORMATS.ARTC_REC_FREQ_CODE → returns.returns.returns_frequency (legacy mapPeriod).
RETURNS_FREQUENCIES: Mapping[str, str] = {
    "D": "day",
    "W": "week",
    "F": "fortnight",
    "M": "month",
    "Q": "quarter",
    "A": "year",
}

#: FORM_PRODN_MONTH codes of upload and line-entry formats (legacy mapProductionMonth).
UPLOAD_PRODUCTION_MONTHS = frozenset({65, 66})
LINE_ENTRY_PRODUCTION_MONTHS = frozenset({45, 46})

HOLDER_ROLE = "Licence holder"
CURRENT_STATUS = "CURR"


class NaldDataError(JobDataError):
    """The licence's NALD rows lack something the legacy import required (it failed there too)."""


# --------------------------------------------------------------------------- permit.licence


@dataclass(frozen=True)
class PermitLicence:
    """What ``permit.licence`` is upserted with (regime 1, type 8, status '1' are constants)."""

    licence_ref: str
    start_date: date | None  # licence_start_dt
    end_date: date | None  # licence_end_dt
    data: dict[str, Any]  # licence_data_value: the permit JSON


def permit_licence(rows: LicenceRows, today: date) -> PermitLicence | None:
    """The permit.licence row of a licence; ``None`` when it has no versions (the legacy skipped it).

    Legacy getLicenceJson and buildPermitRepoPacket:
    - ``start_date``: EFF_ST_DATE of the version with the highest
      ISSUE_NO, then INCR_NO (not necessarily the current one);
    - ``end_date``: the earliest of EXPIRY_DATE, REV_DATE, LAPSED_DATE
      that is set (getEndDate);
    - ``data``: the permit JSON, see :func:`permit_json`.
    """
    if not rows.versions:
        return None
    data = permit_json(rows, today)
    latest = data["data"]["versions"][0]
    return PermitLicence(
        licence_ref=rows.licence["LIC_NO"],
        start_date=nald_date(latest.get("EFF_ST_DATE")),
        end_date=licence_end_date(rows.licence),
        data=data,
    )


def licence_end_date(licence: Row) -> date | None:
    """Earliest of EXPIRY_DATE, REV_DATE and LAPSED_DATE that is set (legacy getEndDate)."""
    dates = [nald_date(licence.get(c)) for c in ("EXPIRY_DATE", "REV_DATE", "LAPSED_DATE")]
    present = [d for d in dates if d is not None]
    return min(present) if present else None


def permit_json(rows: LicenceRows, today: date) -> dict[str, Any]:
    """The legacy permit JSON (getLicenceJson), as stored in ``licence_data_value``.

    The NALD_ABS_LICENCES row, then ``start_date`` (ORIG_EFF_DATE) and
    ``end_date`` (see :func:`licence_end_date`) as ``YYYY-MM-DD`` (the legacy
    getLicence query added them), ``vmlVersion`` 2 and ``data``:

    - ``versions``: every licence version, highest ISSUE_NO/INCR_NO first (the
      legacy sorted this array in place when picking the latest version, before
      storing it), each with ``parties``, each party with its ``contacts``, each
      contact with its ``party_address``;
    - ``current_version``: see :func:`current_version_json`;
    - ``cams``: NALD_REP_UNITS rows with CODE = AREP_CAMS_CODE;
    - ``roles``: the licence roles not ended by ``today``, see :func:`roles_json`;
    - ``purposes``: the purposes of every version, see :func:`purposes_json`.
    """
    lookup = _Lookup(rows)
    licence = rows.licence
    result: dict[str, Any] = dict(licence)
    start = nald_date(licence.get("ORIG_EFF_DATE"))
    end = licence_end_date(licence)
    result["start_date"] = start.isoformat() if start else None
    result["end_date"] = end.isoformat() if end else None
    result["vmlVersion"] = VML_VERSION
    result["data"] = {
        "versions": [_version_json(lookup, v) for v in latest_first(rows.versions)],
        "current_version": current_version_json(rows, today, lookup),
        "cams": [dict(r) for r in rows.cams],
        "roles": roles_json(rows, today, lookup),
        "purposes": purposes_json(rows, None, lookup),
    }
    return result


def latest_first(versions: Iterable[Row]) -> list[Row]:
    """Versions by ISSUE_NO then INCR_NO, highest first (legacy getLatestVersion).

    Differs from legacy: it scored ``1000 * ISSUE_NO + INCR_NO`` (wrong past
    999 increments) and left non-numeric numbers where they were; we compare
    the pair and put non-numeric ones last.
    """
    return sorted(versions, key=_version_number, reverse=True)


def _version_number(version: Row) -> tuple[int, int]:
    issue, increment = leading_integer(version.get("ISSUE_NO")), leading_integer(version.get("INCR_NO"))
    return (-1 if issue is None else issue, -1 if increment is None else increment)


def _version_json(lookup: _Lookup, version: Row) -> dict[str, Any]:
    """A version with its ``parties`` and their ``contacts`` (legacy getVersionsJson)."""
    item = dict(version)
    item["parties"] = [_party_with_contacts(lookup, p) for p in lookup.parties.get(version.get("ACON_APAR_ID"), [])]
    return item


def _party_with_contacts(lookup: _Lookup, party: Row) -> dict[str, Any]:
    """Legacy getPartyContacts: the party's NALD_CONTACTS rows that have an address."""
    item = dict(party)
    contacts = []
    for contact in lookup.contacts.get(party.get("ID"), []):
        address = lookup.first(lookup.addresses, contact.get("AADD_ID"))
        if address is not None:
            contacts.append({**contact, "party_address": dict(address)})
    item["contacts"] = contacts
    return item


def current_version_json(rows: LicenceRows, today: date, lookup: _Lookup | None = None) -> dict[str, Any] | None:
    """The legacy ``current_version`` (getCurrentVersionJson), or ``None``.

    The version (legacy getCurrentVersion) is, among versions with STATUS
    'CURR' whose WA_ALTY_CODE is in NALD_WA_LIC_TYPES, the one with the highest
    ISSUE_NO/INCR_NO that has started (EFF_ST_DATE unset or <= today) and not
    ended (EFF_END_DATE unset or > today); and only while the licence has not
    expired, lapsed or been revoked (each date unset or > today). The legacy
    compared dates with ``now()``, so an end date of today is already ended.

    Result: ``licence`` (the version row, its licence type's columns and
    ``party``: a *list* of the holder party rows), ``party`` and ``address``
    (the holder party and the version's address; absent if missing, as in
    the legacy), ``original_effective_date``, ``version_effective_date`` and
    ``expiry_date`` as ``YYYYMMDD`` (or None), ``purposes`` (of that version,
    see :func:`purposes_json`) and ``formats`` (see :func:`current_formats_json`).

    Differs from legacy: it ordered ISSUE_NO and INCR_NO as text ('9' > '10');
    we compare numbers.
    """
    lookup = lookup or _Lookup(rows)
    licence = rows.licence
    for column in ("EXPIRY_DATE", "LAPSED_DATE", "REV_DATE"):
        ended = nald_date(licence.get(column))
        if ended is not None and ended <= today:
            return None
    candidates = []
    for version in rows.versions:
        start = nald_date(version.get("EFF_ST_DATE"))
        end = nald_date(version.get("EFF_END_DATE"))
        licence_type = lookup.first(lookup.licence_types, version.get("WA_ALTY_CODE"))
        if (
            version.get("STATUS") == CURRENT_STATUS
            and licence_type is not None
            and (start is None or start <= today)
            and (end is None or end > today)
        ):
            candidates.append((version, licence_type))
    if not candidates:
        return None
    version, licence_type = max(candidates, key=lambda pair: _version_number(pair[0]))

    region_parties = lookup.parties.get(version.get("ACON_APAR_ID"), [])
    result: dict[str, Any] = {
        "licence": {**version, **licence_type, "party": [dict(p) for p in region_parties]},
    }
    if region_parties:
        result["party"] = dict(region_parties[0])
    address = lookup.first(lookup.addresses, version.get("ACON_AADD_ID"))
    if address is not None:
        result["address"] = dict(address)
    result["original_effective_date"] = calendar_to_sortable(licence.get("ORIG_EFF_DATE"))
    result["version_effective_date"] = calendar_to_sortable(version.get("EFF_ST_DATE"))
    result["expiry_date"] = calendar_to_sortable(licence.get("EXPIRY_DATE"))
    result["purposes"] = purposes_json(rows, version, lookup)
    result["formats"] = current_formats_json(rows, lookup)
    return result


def purposes_json(rows: LicenceRows, version: Row | None = None, lookup: _Lookup | None = None) -> list[dict[str, Any]]:
    """Purposes (of ``version``, else of every version) as the legacy getPurposesJson built them.

    Each NALD_ABS_LIC_PURPOSES row with:
    - ``purpose``: ``[]`` or one ``{purpose_primary, purpose_secondary,
      purpose_tertiary}`` (the code rows; secondary/tertiary None when missing;
      empty when the primary code is unknown), legacy getPurpose;
    - ``purposePoints``: NALD_ABS_PURP_POINTS rows whose point exists, each with
      ``means_of_abstraction``, ``point_detail`` and ``point_source`` rows;
    - ``licenceAgreements``: NALD_LIC_AGRMNTS rows;
    - ``licenceConditions``: NALD_LIC_CONDITIONS rows by DISP_ORD, each with
      its ``condition_type`` row (or None).
    """
    lookup = lookup or _Lookup(rows)
    purposes = rows.purposes
    if version is not None:
        purposes = [
            p
            for p in purposes
            if p.get("AABV_ISSUE_NO") == version.get("ISSUE_NO") and p.get("AABV_INCR_NO") == version.get("INCR_NO")
        ]
    result = []
    for purpose in purposes:
        item = dict(purpose)
        item["purpose"] = _purpose_codes(lookup, purpose)
        item["purposePoints"] = _purpose_points(lookup, purpose.get("ID"))
        item["licenceAgreements"] = [dict(a) for a in lookup.agreements.get(purpose.get("ID"), [])]
        item["licenceConditions"] = _purpose_conditions(lookup, purpose.get("ID"))
        result.append(item)
    return result


def _purpose_codes(lookup: _Lookup, purpose: Row) -> list[dict[str, Any]]:
    primary = lookup.first(lookup.purposes_primary, purpose.get("APUR_APPR_CODE"))
    if primary is None:
        return []
    secondary = lookup.first(lookup.purposes_secondary, purpose.get("APUR_APSE_CODE"))
    tertiary = lookup.first(lookup.purpose_uses, purpose.get("APUR_APUS_CODE"))
    return [
        {
            "purpose_primary": dict(primary),
            "purpose_secondary": _copy(secondary),
            "purpose_tertiary": _copy(tertiary),
        }
    ]


def _purpose_points(lookup: _Lookup, purpose_id: Any) -> list[dict[str, Any]]:
    result = []
    for purpose_point in lookup.purpose_points.get(purpose_id, []):
        point = lookup.first(lookup.points, purpose_point.get("AAIP_ID"))
        if point is None:
            continue
        result.append(
            {
                **purpose_point,
                "means_of_abstraction": _copy(
                    lookup.first(lookup.means_of_abstraction, purpose_point.get("AMOA_CODE"))
                ),
                "point_detail": dict(point),
                "point_source": _copy(lookup.first(lookup.sources, point.get("ASRC_CODE"))),
            }
        )
    return result


def _purpose_conditions(lookup: _Lookup, purpose_id: Any) -> list[dict[str, Any]]:
    """Conditions by DISP_ORD (legacy: as text, so '10' before '9'; we compare numbers)."""
    conditions = sorted(lookup.conditions.get(purpose_id, []), key=lambda c: sort_value(c.get("DISP_ORD")))
    return [
        {**c, "condition_type": _copy(lookup.condition_types.get((c.get("ACIN_CODE"), c.get("ACIN_SUBCODE"))))}
        for c in conditions
    ]


def current_formats_json(rows: LicenceRows, lookup: _Lookup | None = None) -> list[dict[str, Any]]:
    """Return formats of the licence's 'CURR' return versions (legacy getReturnFormats).

    Each NALD_RET_FORMATS row with ``points`` (NALD_POINTS rows; a point that
    is missing gives a row of nulls, from the legacy LEFT JOIN) and
    ``purposes`` (NALD_RET_FMT_PURPOSES rows with ``primary_purpose``,
    ``secondary_purpose`` and ``tertiary_purpose`` descriptions).
    """
    lookup = lookup or _Lookup(rows)
    current = {v.get("VERS_NO") for v in rows.return_versions if v.get("STATUS") == CURRENT_STATUS}
    result = []
    for fmt in rows.return_formats:
        if fmt.get("ARVN_VERS_NO") not in current:
            continue
        item = dict(fmt)
        item["points"] = [
            _copy(point) if point is not None else _null_row("NALD_POINTS")
            for point in _format_points(lookup, fmt.get("ID"))
        ]
        item["purposes"] = _format_purposes(lookup, fmt.get("ID"))
        result.append(item)
    return result


def _format_points(lookup: _Lookup, format_id: Any) -> list[Row | None]:
    return [lookup.first(lookup.points, fp.get("AAIP_ID")) for fp in lookup.format_points.get(format_id, [])]


def _format_purposes(lookup: _Lookup, format_id: Any) -> list[dict[str, Any]]:
    """Legacy getFormatPurposes: the rows plus the three code descriptions."""
    return [
        {
            **p,
            "primary_purpose": _descr(lookup.first(lookup.purposes_primary, p.get("APUR_APPR_CODE"))),
            "secondary_purpose": _descr(lookup.first(lookup.purposes_secondary, p.get("APUR_APSE_CODE"))),
            "tertiary_purpose": _descr(lookup.first(lookup.purpose_uses, p.get("APUR_APUS_CODE"))),
        }
        for p in lookup.format_purposes.get(format_id, [])
    ]


def roles_json(rows: LicenceRows, today: date, lookup: _Lookup | None = None) -> list[dict[str, Any]]:
    """Licence roles not ended by ``today`` (legacy getRoles).

    A role whose EFF_END_DATE is unset or after today (the legacy compared with
    ``now()``), and whose party and address exist in the licence's region
    (inner joins in the legacy SQL); roles not yet started are kept. Each is
    ``{role_detail, role_type, role_party, role_address, array}``: ``array``
    holds its NALD_CONT_NOS rows (same party and address) merged with their
    NALD_CONT_NO_TYPES row.
    """
    lookup = lookup or _Lookup(rows)
    result = []
    for role in rows.roles:
        end = nald_date(role.get("EFF_END_DATE"))
        if end is not None and end <= today:
            continue
        party = lookup.first(lookup.parties, role.get("ACON_APAR_ID"))
        address = lookup.first(lookup.addresses, role.get("ACON_AADD_ID"))
        if party is None or address is None:
            continue
        numbers = [
            {**n, **(lookup.first(lookup.contact_number_types, n.get("ACNT_CODE")) or _null_row("NALD_CONT_NO_TYPES"))}
            for n in lookup.contact_numbers.get((role.get("ACON_APAR_ID"), role.get("ACON_AADD_ID")), [])
        ]
        result.append(
            {
                "role_detail": dict(role),
                "role_type": _copy(lookup.first(lookup.role_types, role.get("ALRT_CODE"))),
                "role_party": dict(party),
                "role_address": dict(address),
                "array": numbers,
            }
        )
    return result


# --------------------------------------------------------------------------- crm.document_header


def document_metadata(rows: LicenceRows, permit: PermitLicence) -> dict[str, Any]:
    """The crm.document_header metadata (legacy buildCRMPacket).

    Built, as the legacy did, from the permit JSON alone (``rows`` is not
    needed; it is taken so that every builder has the same first argument).

    With a current version: Name, Salutation, Initials, Forename (holder
    party), AddressLine1-4, Town, County, Postcode, Country (the current
    version's address), Expires and Modified (``YYYYMMDD`` or None), with
    'null' strings as ``''``, and IsCurrent true. Without: only IsCurrent false.
    Then ``contacts``: the holder of the latest 'CURR' version with its
    address, then one per role (see :func:`contacts`), even when the licence
    is not current.

    Raises :class:`NaldDataError` where the legacy failed: a current version
    whose party or address row is missing.
    """
    data = permit.data["data"]
    metadata = _crm_metadata(data["current_version"])
    metadata["contacts"] = contacts(find_current(data["versions"]), data["roles"])
    return metadata


def _crm_metadata(current_version: Mapping[str, Any] | None) -> dict[str, Any]:
    """Legacy buildCRMMetadata and buildCRMContactMetadata."""
    if not current_version:
        return {"IsCurrent": False}
    party, address = current_version.get("party"), current_version.get("address")
    if party is None or address is None:
        raise NaldDataError("the current licence version has no party or no address row")
    values = {
        "Name": party.get("NAME"),
        "Salutation": party.get("SALUTATION"),
        "Initials": party.get("INITIALS"),
        "Forename": party.get("FORENAME"),
        "AddressLine1": address.get("ADDR_LINE1"),
        "AddressLine2": address.get("ADDR_LINE2"),
        "AddressLine3": address.get("ADDR_LINE3"),
        "AddressLine4": address.get("ADDR_LINE4"),
        "Town": address.get("TOWN"),
        "County": address.get("COUNTY"),
        "Postcode": address.get("POSTCODE"),
        "Country": address.get("COUNTRY"),
        "Expires": current_version.get("expiry_date"),
        "Modified": current_version.get("version_effective_date"),
        "IsCurrent": True,
    }
    # pruneNullString: NALD's NULL becomes '' here (real nulls stay null).
    return {k: "" if v is not None and is_null(v) else v for k, v in values.items()}


def find_current(versions: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The first 'CURR' version of the permit JSON's (latest-first) versions (helpers findCurrent)."""
    return next((v for v in versions if v.get("STATUS") == CURRENT_STATUS), None)


def contacts(version: Mapping[str, Any] | None, roles: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The holder of ``version`` then one contact per role (legacy contactsFormatter).

    Each ``{role, type, salutation, forename, initials, name, addressLine1-4,
    town, county, postcode, country}``, trimmed, 'null' as None. ``type`` is
    'Person' for APAR_TYPE 'PER', else 'Organisation'; a role is named by its
    type's DESCR in sentence case ('RETURNS TO' → 'Returns to').

    Raises :class:`NaldDataError` where the legacy failed: the holder party,
    its contact at the version's address, or a role's type is missing.
    """
    if not version:
        return []
    holder = next((p for p in version.get("parties", []) if p.get("ID") == version.get("ACON_APAR_ID")), None)
    if holder is None:
        raise NaldDataError(f"licence holder party {version.get('ACON_APAR_ID')!r} not found")
    holder_contact = next(
        (c for c in holder.get("contacts", []) if c.get("AADD_ID") == version.get("ACON_AADD_ID")), None
    )
    if holder_contact is None:
        raise NaldDataError(
            f"licence holder party {version.get('ACON_APAR_ID')!r} has no contact at address "
            f"{version.get('ACON_AADD_ID')!r}"
        )
    result = [{"role": HOLDER_ROLE, **_crm_name(holder), **_crm_address(holder_contact["party_address"])}]
    for role in roles:
        role_type = role.get("role_type")
        if role_type is None:
            raise NaldDataError(f"licence role type {role['role_detail'].get('ALRT_CODE')!r} not found")
        result.append(
            {
                "role": sentence_case(role_type.get("DESCR") or ""),
                **_crm_name(role["role_party"]),
                **_crm_address(role["role_address"]),
            }
        )
    return [{k: text(v) for k, v in contact.items()} for contact in result]


def _crm_name(party: Mapping[str, Any]) -> dict[str, Any]:
    """Helpers crmNameFormatter."""
    return {
        "type": "Person" if party.get("APAR_TYPE") == "PER" else "Organisation",
        "salutation": _trim(party.get("SALUTATION")),
        "forename": _trim(party.get("FORENAME")),
        "initials": _trim(party.get("INITIALS")),
        "name": _trim(party.get("NAME")),
    }


def _crm_address(address: Mapping[str, Any]) -> dict[str, Any]:
    """Helpers addressFormatter."""
    return {
        "addressLine1": _trim(address.get("ADDR_LINE1")),
        "addressLine2": _trim(address.get("ADDR_LINE2")),
        "addressLine3": _trim(address.get("ADDR_LINE3")),
        "addressLine4": _trim(address.get("ADDR_LINE4")),
        "town": _trim(address.get("TOWN")),
        "county": _trim(address.get("COUNTY")),
        "postcode": _trim(address.get("POSTCODE")),
        "country": _trim(address.get("COUNTRY")),
    }


_SPLIT_LOWER_UPPER = re.compile(r"([a-z0-9])([A-Z])")
_SPLIT_UPPER_UPPER = re.compile(r"([A-Z])([A-Z][a-z])")
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")


def sentence_case(value: str) -> str:
    """npm sentence-case 3.0.4: words (split at case changes and non-alphanumerics), lower case,
    the first capitalised, joined by spaces: 'RETURNS_TO' → 'Returns to', 'licenceHolder' → 'Licence holder'."""
    marked = _SPLIT_UPPER_UPPER.sub("\\1\0\\2", _SPLIT_LOWER_UPPER.sub("\\1\0\\2", value))
    words = _NOT_WORD.sub("\0", marked).strip("\0").split("\0")
    sentence = " ".join(w.lower() for w in words)
    return sentence[:1].upper() + sentence[1:]


# --------------------------------------------------------------------------- returns


def return_frequency(format_row: Row) -> str:
    """A format's returns_frequency from ARTC_REC_FREQ_CODE (legacy mapPeriod, plus fortnightly).

    The legacy mapped D/W/M/Q/A only, so saving the returns of a fortnightly
    ('F') format failed; 'fortnight' is the value WRLS itself uses. Any other
    code is bad data: the licence fails, named, and the others go on.
    """
    code = (format_row.get("ARTC_REC_FREQ_CODE") or "").strip()
    if code not in RETURNS_FREQUENCIES:
        raise NaldDataError(f"return format {format_row.get('ID')}: unknown ARTC_REC_FREQ_CODE {code!r}")
    return RETURNS_FREQUENCIES[code]


def return_metadata(rows: LicenceRows, format_row: Row, nald_return: NaldReturn) -> dict[str, Any]:
    """The metadata of one return of a format: its format's (:func:`format_metadata`), then
    ``isCurrent`` and ``isFinal`` from the return's cycle."""
    metadata = format_metadata(rows, format_row)
    return {**metadata, "isCurrent": nald_return.is_current, "isFinal": nald_return.is_final}


def format_metadata(rows: LicenceRows, format_row: Row) -> dict[str, Any]:
    """The metadata every return of a format has (legacy formatReturnMetadata, plus isCurrent/isFinal).

    ``format_row`` is the NALD_RET_FORMATS row (alone or merged with its return
    version). Keys in order::

        version: 1
        description: SITE_DESCR, as stored ('null' included, as the legacy did)
        purposes: [{primary, secondary, tertiary: {code, description}, alias?}]
        points: [{ngr1, ngr2, ngr3, ngr4, name}]   (see abstraction_point)
        nald: {regionCode, areaCode, formatId, periodStartDay, periodStartMonth,
               periodEndDay, periodEndMonth}
        isTwoPartTariff: TPT_FLAG == 'Y'
        isSummer, isUpload: from FORM_PRODN_MONTH (summer 65/45/80; upload 65/66 or line entry 45/46)
        isCurrent, isFinal: from the return's cycle (added by return_metadata)

    ``alias`` is left out when the trimmed PURP_ALIAS is empty or 'null' (the
    legacy value was undefined). regionCode and formatId are numbers
    (JavaScript parseInt; None where that gave NaN); areaCode is the
    licence's AREP_AREA_CODE; the period values are kept as stored.
    """
    format_id = format_row.get("ID")
    codes = {
        "primary": ("APUR_APPR_CODE", _group(rows.purposes_primary, "CODE")),
        "secondary": ("APUR_APSE_CODE", _group(rows.purposes_secondary, "CODE")),
        "tertiary": ("APUR_APUS_CODE", _group(rows.purpose_uses, "CODE")),
    }
    purposes = []
    for p in rows.return_format_purposes:
        if p.get("ARTY_ID") != format_id:
            continue
        purpose: dict[str, Any] = {
            level: {"code": p.get(column), "description": _descr(_first(table, p.get(column)))}
            for level, (column, table) in codes.items()
        }
        alias = p.get("PURP_ALIAS")
        if alias is not None and not is_null(alias):
            purpose["alias"] = alias.strip()
        purposes.append(purpose)
    points = _group(rows.points, "ID")
    month = leading_integer(format_row.get("FORM_PRODN_MONTH"))
    return {
        "version": 1,
        "description": format_row.get("SITE_DESCR"),
        "purposes": purposes,
        "points": [
            abstraction_point(_first(points, fp.get("AAIP_ID")))
            for fp in rows.return_format_points
            if fp.get("ARTY_ID") == format_id
        ],
        "nald": {
            "regionCode": leading_integer(format_row.get("FGAC_REGION_CODE")),
            "areaCode": rows.licence.get("AREP_AREA_CODE"),
            "formatId": leading_integer(format_id),
            "periodStartDay": format_row.get("ABS_PERIOD_ST_DAY"),
            "periodStartMonth": format_row.get("ABS_PERIOD_ST_MONTH"),
            "periodEndDay": format_row.get("ABS_PERIOD_END_DAY"),
            "periodEndMonth": format_row.get("ABS_PERIOD_END_MONTH"),
        },
        "isTwoPartTariff": format_row.get("TPT_FLAG") == "Y",
        "isSummer": is_summer_format(format_row.get("FORM_PRODN_MONTH")),
        "isUpload": month in UPLOAD_PRODUCTION_MONTHS or month in LINE_ENTRY_PRODUCTION_MONTHS,
    }


def abstraction_point(point: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{ngr1, ngr2, ngr3, ngr4, name}`` of a NALD_POINTS row (helpers formatAbstractionPoint).

    An NGR is ``'<sheet> <east[:3]> <north[:3]>'``, None without a sheet. A
    missing point (``None``, the legacy LEFT JOIN's row of nulls) is all None.
    """
    point = {k: text(v) for k, v in (point or {}).items()}

    def ngr(n: int) -> str | None:
        sheet = point.get(f"NGR{n}_SHEET")
        if not sheet:
            return None
        # The legacy threw on a sheet without east/north; an empty part is kinder.
        east, north = point.get(f"NGR{n}_EAST") or "", point.get(f"NGR{n}_NORTH") or ""
        return f"{sheet} {east[:3]} {north[:3]}"

    return {"ngr1": ngr(1), "ngr2": ngr(2), "ngr3": ngr(3), "ngr4": ngr(4), "name": point.get("LOCAL_NAME")}


# --------------------------------------------------------------------------- helpers


def json_text(value: Any) -> str:
    """Compact JSON, keys in the order built (the writers store this text)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def calendar_to_sortable(value: str | None) -> str | None:
    """'DD/MM/YYYY' → 'YYYYMMDD', None for 'null' (helpers calendarToSortable)."""
    parsed = nald_date(value)
    return parsed.strftime("%Y%m%d") if parsed else None


def _trim(value: Any) -> Any:
    value = text(value)
    return value.strip() if isinstance(value, str) else value


def _copy(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else dict(row)


def _descr(row: Mapping[str, Any] | None) -> Any:
    return None if row is None else row.get("DESCR")


def _null_row(table: str) -> dict[str, None]:
    """The all-null row a legacy LEFT JOIN gave for a missing row (the columns WRLS knows of)."""
    return {column: None for column in nald.BY_NAME[table].columns}


def _first(groups: Mapping[Any, list[Row]], key: Any) -> Row | None:
    rows = groups.get(key)
    return rows[0] if rows else None


def _group(rows: Iterable[Row], *columns: str) -> dict[Any, list[Row]]:
    """Rows by the value of one column, or by the tuple of several."""
    groups: dict[Any, list[Row]] = defaultdict(list)
    for row in rows:
        key = row.get(columns[0]) if len(columns) == 1 else tuple(row.get(c) for c in columns)
        groups[key].append(row)
    return dict(groups)


class _Lookup:
    """The licence's rows grouped by the keys the legacy joins used (all within its region)."""

    def __init__(self, rows: LicenceRows):
        self.licence_types = _group(rows.licence_types, "CODE")
        self.parties = _group(rows.parties, "ID")
        self.contacts = _group(rows.contacts, "APAR_ID")
        self.addresses = _group(rows.addresses, "ID")
        self.purpose_points = _group(rows.purpose_points, "AABP_ID")
        self.points = _group(rows.points, "ID")
        self.means_of_abstraction = _group(rows.means_of_abstraction, "CODE")
        self.sources = _group(rows.sources, "CODE")
        self.agreements = _group(rows.agreements, "AABP_ID")
        self.conditions = _group(rows.conditions, "AABP_ID")
        self.condition_types = {k: v[0] for k, v in _group(rows.condition_types, "CODE", "SUBCODE").items()}
        self.purposes_primary = _group(rows.purposes_primary, "CODE")
        self.purposes_secondary = _group(rows.purposes_secondary, "CODE")
        self.purpose_uses = _group(rows.purpose_uses, "CODE")
        self.role_types = _group(rows.role_types, "CODE")
        self.contact_numbers = _group(rows.contact_numbers, "ACON_APAR_ID", "ACON_AADD_ID")
        self.contact_number_types = _group(rows.contact_number_types, "CODE")
        self.format_points = _group(rows.return_format_points, "ARTY_ID")
        self.format_purposes = _group(rows.return_format_purposes, "ARTY_ID")

    first = staticmethod(_first)
