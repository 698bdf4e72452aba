"""The reads and writes of import-licence in the WRLS tables: a statement per table for a chunk of licences.

Every write is an upsert that changes a row only when a value differs
(``date_updated`` too), so importing the same extract twice leaves every row
as it was, and a redelivered licence message duplicates nothing.

Legacy: DEFRA/water-abstraction-import (early 2024),
``src/modules/licence-import/load/licence.js`` and
``load/connectors/{index,queries}.js`` (one statement per row, in parallel,
no transaction, ``date_updated = now()`` on every run).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, TextClause, text

from ..errors import JobDataError
from .licence_transforms import LICENCE_HOLDER, RETURNS_TO, Licence, LicenceImport

# SROC replaced ALCS (PRESROC) charging on this day: load/connectors/queries.js
# flagLicenceForSupplementaryBilling picks the flag by charge version start date, not scheme.
SROC_START = date(2022, 4, 1)


class MissingReferenceData(JobDataError):
    """Raised when a WRLS reference table lacks a row the licence needs (a region, a purpose, a role)."""


@dataclass(frozen=True)
class WrlsState:
    """What the WRLS tables hold that one licence's import depends on."""

    region_id: str | None
    before: dict[str, Any] | None  # the water.licences row before the import: licence_id and the three end dates
    purposes_primary: dict[str, str] = field(default_factory=dict)  # legacy_id -> id
    purposes_secondary: dict[str, str] = field(default_factory=dict)
    purposes_uses: dict[str, str] = field(default_factory=dict)
    # (code, subcode) -> id; looked up with a condition's NULL code too, which finds none.
    condition_types: dict[tuple[str | None, str | None], str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # crm_v2.roles name -> id


STATES = text("""
    SELECT
      (SELECT coalesce(json_object_agg(nald_region_id, region_id), '{}') FROM water.regions
        WHERE nald_region_id = ANY(CAST(:regions AS int[]))) AS regions,
      (SELECT coalesce(json_object_agg(licence_ref, json_build_object(
                'licence_id', licence_id, 'expired_date', expired_date,
                'lapsed_date', lapsed_date, 'revoked_date', revoked_date)), '{}')
         FROM water.licences WHERE licence_ref = ANY(CAST(:refs AS varchar[]))) AS befores,
      (SELECT coalesce(json_object_agg(legacy_id, purpose_primary_id), '{}') FROM water.purposes_primary
        WHERE legacy_id = ANY(CAST(:primary AS text[]))) AS purposes_primary,
      (SELECT coalesce(json_object_agg(legacy_id, purpose_secondary_id), '{}') FROM water.purposes_secondary
        WHERE legacy_id = ANY(CAST(:secondary AS text[]))) AS purposes_secondary,
      (SELECT coalesce(json_object_agg(legacy_id, purpose_use_id), '{}') FROM water.purposes_uses
        WHERE legacy_id = ANY(CAST(:uses AS text[]))) AS purposes_uses,
      (SELECT coalesce(json_agg(json_build_array(code, subcode, licence_version_purpose_condition_type_id)), '[]')
         FROM water.licence_version_purpose_condition_types
        WHERE code = ANY(CAST(:codes AS text[]))) AS condition_types,
      (SELECT coalesce(json_object_agg(name, role_id), '{}') FROM crm_v2.roles
        WHERE name = ANY(CAST(:roles AS text[]))) AS roles
""")


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def read_states(connection: Connection, licences: Sequence[LicenceImport]) -> list[WrlsState]:
    """One query for some licences: each one's region and row as WRLS holds it, and the ids of the codes
    and roles they use (the lookups shared: a code one of them lacks, WRLS lacks)."""
    if not licences:
        return []
    purposes = [p for lic in licences for p in lic.purposes]
    row = (
        connection.execute(
            STATES,
            {
                "regions": sorted({lic.licence.region_code for lic in licences}),
                "refs": [lic.licence.licence_ref for lic in licences],
                "primary": sorted({p.primary for p in purposes}),
                "secondary": sorted({p.secondary for p in purposes}),
                "uses": sorted({p.use for p in purposes}),
                "codes": sorted({c.code for lic in licences for c in lic.conditions if c.code is not None}),
                "roles": [LICENCE_HOLDER, RETURNS_TO],
            },
        )
        .mappings()
        .one()
    )
    condition_types = {(code, subcode): id_ for code, subcode, id_ in row["condition_types"]}
    states = []
    for lic in licences:
        before = row["befores"].get(lic.licence.licence_ref)
        if before is not None:
            before = {
                "licence_id": before["licence_id"],
                **{k: _day(before[k]) for k in ("expired_date", "lapsed_date", "revoked_date")},
            }
        states.append(
            WrlsState(
                region_id=row["regions"].get(str(lic.licence.region_code)),
                before=before,
                purposes_primary=row["purposes_primary"],
                purposes_secondary=row["purposes_secondary"],
                purposes_uses=row["purposes_uses"],
                condition_types=condition_types,
                roles=row["roles"],
            )
        )
    return states


def check_reference_data(licence: LicenceImport, state: WrlsState) -> None:
    """``MissingReferenceData`` naming what the licence needs and WRLS lacks.

    The legacy wrote NULL ids for these (a missing region or purpose then
    failed on a NOT NULL column half-way through the licence; a missing role
    silently wrote no document role).
    """
    ref = licence.licence.licence_ref
    if state.region_id is None:
        raise MissingReferenceData(
            f"licence {ref}: water.regions has no region with nald_region_id {licence.licence.region_code} "
            f"(seed the 8 NALD regions)"
        )
    missing = sorted(
        {f"primary {p.primary}" for p in licence.purposes if p.primary not in state.purposes_primary}
        | {f"secondary {p.secondary}" for p in licence.purposes if p.secondary not in state.purposes_secondary}
        | {f"use {p.use}" for p in licence.purposes if p.use not in state.purposes_uses}
    )
    if missing:
        raise MissingReferenceData(
            f"licence {ref}: purpose codes missing from water.purposes_primary/secondary/uses: {', '.join(missing)} "
            f"(run charging-import-data)"
        )
    roles = sorted({r.role for r in licence.roles} - set(state.roles))
    if roles:
        raise MissingReferenceData(f"licence {ref}: crm_v2.roles has no role named {', '.join(roles)}")


# --------------------------------------------------------------------------- upserts


def upsert(
    table: str,
    source: str,
    key: tuple[str, ...],
    columns: tuple[str, ...],
    update: tuple[str, ...],
    returning: str = "",
) -> TextClause:
    """An upsert of the rows of ``source`` (a SELECT naming ``columns``) into ``table`` on ``key``.

    Rows equal to the stored ones in every ``update`` column are filtered out
    before the insert, so an unchanged row is neither updated nor locked: a
    licence whose NALD data did not change writes nothing, and its commit
    waits for no disk flush. The ``WHERE`` of the ``DO UPDATE`` covers a row
    that changed in between.
    """
    current = ", ".join(f"cur.{c}" for c in update)
    return text(f"""
        INSERT INTO {table} AS t ({", ".join(columns)})
        SELECT {", ".join(f"n.{c}" for c in columns)} FROM ({source}) n
        LEFT JOIN {table} cur ON {" AND ".join(f"cur.{k} = n.{k}" for k in key)}
        WHERE cur.{key[0]} IS NULL OR ({current}) IS DISTINCT FROM ({", ".join(f"n.{c}" for c in update)})
        ON CONFLICT ({", ".join(key)}) DO UPDATE
          SET {", ".join(f"{c} = excluded.{c}" for c in update)}, date_updated = now()
          WHERE ({", ".join(f"t.{c}" for c in update)}) IS DISTINCT FROM ({", ".join(f"excluded.{c}" for c in update)})
        {returning}""")


# --------------------------------------------------------------------------- water.licences

_LICENCE_UPDATE = ("is_water_undertaker", "regions", "start_date", "expired_date", "lapsed_date", "revoked_date")
# The region is set when the licence is created, as the legacy did.
UPSERT_LICENCES = upsert(
    "water.licences",
    """SELECT CAST(n.region_id AS uuid) AS region_id, n.licence_ref, n.is_water_undertaker,
              CAST(n.regions AS jsonb) AS regions, n.start_date, n.expired_date, n.lapsed_date, n.revoked_date
       FROM unnest(CAST(:region_ids AS text[]), CAST(:refs AS varchar[]), CAST(:undertakers AS boolean[]),
                   CAST(:regions AS text[]), CAST(:starts AS date[]), CAST(:expired AS date[]),
                   CAST(:lapsed AS date[]), CAST(:revoked AS date[]))
              AS n (region_id, licence_ref, is_water_undertaker, regions, start_date, expired_date, lapsed_date,
                    revoked_date)""",
    ("licence_ref",),
    ("region_id", "licence_ref", *_LICENCE_UPDATE),
    _LICENCE_UPDATE,
    "RETURNING licence_ref, licence_id::text",
)


def upsert_licences(connection: Connection, licences: Sequence[Licence], states: Sequence[WrlsState]) -> list[str]:
    """The water.licences rows; returns their ids, in order."""
    written: dict[str, str] = dict(
        connection.execute(
            UPSERT_LICENCES,
            {
                "region_ids": [s.region_id for s in states],
                "refs": [lic.licence_ref for lic in licences],
                "undertakers": [lic.is_water_undertaker for lic in licences],
                "regions": [json.dumps(lic.regions, sort_keys=True) for lic in licences],
                "starts": [lic.start_date for lic in licences],
                "expired": [lic.expired_date for lic in licences],
                "lapsed": [lic.lapsed_date for lic in licences],
                "revoked": [lic.revoked_date for lic in licences],
            },
        ).all()
    )
    ids = []
    for lic, state in zip(licences, states, strict=True):
        licence_id = written.get(lic.licence_ref)
        if licence_id is None:
            # Nothing written: the row was there, unchanged, and state.before is it.
            if state.before is None:
                raise RuntimeError(f"water.licences row of {lic.licence_ref} went away during its import")
            licence_id = state.before["licence_id"]
        ids.append(licence_id)
    return ids


# Only the flag of the scheme the licence has charge versions in; nothing when it has none.
FLAG_SUPPLEMENTARY = text("""
    WITH schemes AS (
      SELECT licence_id, bool_or(start_date < :sroc) AS presroc, bool_or(start_date >= :sroc) AS sroc
      FROM water.charge_versions WHERE licence_id = ANY(CAST(:licence_ids AS uuid[])) GROUP BY licence_id)
    UPDATE water.licences l
       SET include_in_supplementary_billing = CASE WHEN s.presroc THEN 'yes'
                                                   ELSE l.include_in_supplementary_billing END,
           include_in_sroc_supplementary_billing = CASE WHEN s.sroc THEN true
                                                        ELSE l.include_in_sroc_supplementary_billing END
      FROM schemes s
     WHERE l.licence_id = s.licence_id AND (s.presroc OR s.sroc)
    RETURNING l.licence_id::text
""")


def flag_supplementary_billing(connection: Connection, licence_ids: Sequence[str]) -> set[str]:
    """Flag the licences for the supplementary bill runs of their charge versions' schemes; returns those
    that have any.

    load/connectors/queries.js flagLicenceForSupplementaryBilling: PRESROC
    (``include_in_supplementary_billing = 'yes'``) when a charge version starts
    before 2022-04-01, SROC (``include_in_sroc_supplementary_billing``) when
    one starts on or after it; a flag already set stays set.
    """
    if not licence_ids:
        return set()
    found = connection.execute(FLAG_SUPPLEMENTARY, {"licence_ids": list(licence_ids), "sroc": SROC_START})
    return {row[0] for row in found}


# --------------------------------------------------------------------------- crm_v2.documents and roles

# On document_ref: its unique index since 2024-10 (tactical-crm migration 20241014133216),
# which replaced the (regime, document_type, document_ref) one the legacy's ON CONFLICT named.
_DOCUMENT_UPDATE = ("start_date", "end_date", "external_id", "date_deleted")
UPSERT_DOCUMENTS = upsert(
    "crm_v2.documents",
    """SELECT 'water'::varchar AS regime, 'abstraction_licence'::varchar AS document_type,
              n.document_ref, n.start_date, n.end_date, n.external_id, NULL::timestamp AS date_deleted
       FROM unnest(CAST(:refs AS varchar[]), CAST(:starts AS date[]), CAST(:ends AS date[]),
                   CAST(:external_ids AS varchar[]))
              AS n (document_ref, start_date, end_date, external_id)""",
    ("document_ref",),
    ("regime", "document_type", "document_ref", *_DOCUMENT_UPDATE),
    _DOCUMENT_UPDATE,
)

_ROLE_UPDATE = ("company_id", "contact_id", "address_id", "invoice_account_id", "end_date")
UPSERT_DOCUMENT_ROLES = upsert(
    "crm_v2.document_roles",
    """SELECT d.document_id, CAST(n.role_id AS uuid) AS role_id, c.company_id, co.contact_id, a.address_id,
              NULL::uuid AS invoice_account_id, n.start_date, n.end_date
       FROM unnest(CAST(:refs AS varchar[]), CAST(:roles AS text[]), CAST(:starts AS date[]),
                   CAST(:ends AS date[]), CAST(:companies AS text[]), CAST(:contacts AS text[]),
                   CAST(:addresses AS text[]))
              AS n (ref, role_id, start_date, end_date, company, contact, address)
       JOIN crm_v2.documents d ON d.document_ref = n.ref
       LEFT JOIN crm_v2.companies c ON c.external_id = n.company
       LEFT JOIN crm_v2.contacts co ON co.external_id = n.contact
       LEFT JOIN crm_v2.addresses a ON a.external_id = n.address""",
    ("document_id", "role_id", "start_date"),
    ("document_id", "role_id", "start_date", *_ROLE_UPDATE),
    _ROLE_UPDATE,
)


def upsert_documents(connection: Connection, licences: Sequence[LicenceImport], states: Sequence[WrlsState]) -> None:
    """The licences' crm_v2 documents, undeleted if they were deleted, and their roles.

    Companies, contacts and addresses are found by external id among what the
    company stage wrote; one not there yet is left NULL until the next import.
    """
    documents = [lic.document for lic in licences]
    connection.execute(
        UPSERT_DOCUMENTS,
        {
            "refs": [d.document_ref for d in documents],
            "starts": [d.start_date for d in documents],
            "ends": [d.end_date for d in documents],
            "external_ids": [d.external_id for d in documents],
        },
    )
    roles = [
        (lic.document.document_ref, state, r) for lic, state in zip(licences, states, strict=True) for r in lic.roles
    ]
    if roles:
        connection.execute(
            UPSERT_DOCUMENT_ROLES,
            {
                "refs": [ref for ref, _, _ in roles],
                "roles": [state.roles[r.role] for _, state, r in roles],
                "starts": [r.start_date for _, _, r in roles],
                "ends": [r.end_date for _, _, r in roles],
                "companies": [r.company_external_id for _, _, r in roles],
                "contacts": [r.contact_external_id for _, _, r in roles],
                "addresses": [r.address_external_id for _, _, r in roles],
            },
        )


# --------------------------------------------------------------------------- versions, purposes, conditions

_VERSION_UPDATE = ("licence_id", "status", "start_date", "end_date", "company_id", "address_id")
UPSERT_VERSIONS = upsert(
    "water.licence_versions",
    """SELECT CAST(n.licence_id AS uuid) AS licence_id, n.issue, n.increment, n.status, n.start_date, n.end_date,
              n.external_id, c.company_id, a.address_id
       FROM unnest(CAST(:licence_ids AS text[]), CAST(:external_ids AS text[]), CAST(:issues AS int[]),
                   CAST(:increments AS int[]), CAST(:statuses AS text[]), CAST(:starts AS date[]),
                   CAST(:ends AS date[]), CAST(:companies AS text[]), CAST(:addresses AS text[]))
              AS n (licence_id, external_id, issue, increment, status, start_date, end_date, company, address)
       LEFT JOIN crm_v2.companies c ON c.external_id = n.company
       LEFT JOIN crm_v2.addresses a ON a.external_id = n.address""",
    ("external_id",),
    ("issue", "increment", "external_id", *_VERSION_UPDATE),
    _VERSION_UPDATE,
)

_PURPOSE_UPDATE = (
    "licence_version_id",
    "purpose_primary_id",
    "purpose_secondary_id",
    "purpose_use_id",
    "abstraction_period_start_day",
    "abstraction_period_start_month",
    "abstraction_period_end_day",
    "abstraction_period_end_month",
    "time_limited_start_date",
    "time_limited_end_date",
    "notes",
    "annual_quantity",
)
UPSERT_PURPOSES = upsert(
    "water.licence_version_purposes",
    """SELECT n.external_id, v.licence_version_id, CAST(n.primary_id AS uuid) AS purpose_primary_id,
              CAST(n.secondary_id AS uuid) AS purpose_secondary_id, CAST(n.use_id AS uuid) AS purpose_use_id,
              n.abstraction_period_start_day, n.abstraction_period_start_month, n.abstraction_period_end_day,
              n.abstraction_period_end_month, n.time_limited_start_date, n.time_limited_end_date, n.notes,
              n.annual_quantity
       FROM unnest(CAST(:external_ids AS text[]), CAST(:versions AS text[]), CAST(:primary_ids AS text[]),
                   CAST(:secondary_ids AS text[]), CAST(:use_ids AS text[]), CAST(:start_days AS smallint[]),
                   CAST(:start_months AS smallint[]), CAST(:end_days AS smallint[]),
                   CAST(:end_months AS smallint[]), CAST(:tl_starts AS date[]), CAST(:tl_ends AS date[]),
                   CAST(:notes AS text[]), CAST(:quantities AS numeric[]))
              AS n (external_id, version, primary_id, secondary_id, use_id, abstraction_period_start_day,
                    abstraction_period_start_month, abstraction_period_end_day, abstraction_period_end_month,
                    time_limited_start_date, time_limited_end_date, notes, annual_quantity)
       JOIN water.licence_versions v ON v.external_id = n.version""",
    ("external_id",),
    ("external_id", *_PURPOSE_UPDATE),
    _PURPOSE_UPDATE,
)

_CONDITION_UPDATE = (
    "licence_version_purpose_id",
    "licence_version_purpose_condition_type_id",
    "param_1",
    "param_2",
    "notes",
)
UPSERT_CONDITIONS = upsert(
    "water.licence_version_purpose_conditions",
    """SELECT n.external_id, p.licence_version_purpose_id,
              CAST(n.type_id AS uuid) AS licence_version_purpose_condition_type_id, n.param_1, n.param_2, n.notes
       FROM unnest(CAST(:external_ids AS text[]), CAST(:purposes AS text[]), CAST(:type_ids AS text[]),
                   CAST(:params_1 AS text[]), CAST(:params_2 AS text[]), CAST(:notes AS text[]))
              AS n (external_id, purpose, type_id, param_1, param_2, notes)
       JOIN water.licence_version_purposes p ON p.external_id = n.purpose""",
    ("external_id",),
    ("external_id", *_CONDITION_UPDATE),
    _CONDITION_UPDATE,
)


def upsert_versions(
    connection: Connection, licence_ids: Sequence[str], licences: Sequence[LicenceImport], states: Sequence[WrlsState]
) -> list[int]:
    """Licence versions, their purposes, and the conditions of a type WRLS has; returns each licence's
    conditions skipped.

    Conditions whose (code, subcode) is not in
    water.licence_version_purpose_condition_types (NALD types that do not
    affect abstraction, AFFECTS_ABS 'N') are not imported, as the legacy's
    2025 rewrite does; its early-2024 code wrote a NULL type id and failed.
    """
    items = list(zip(licence_ids, licences, states, strict=True))
    versions = [(licence_id, v) for licence_id, lic, _ in items for v in lic.versions]
    if versions:
        connection.execute(
            UPSERT_VERSIONS,
            {
                "licence_ids": [licence_id for licence_id, _ in versions],
                "external_ids": [v.external_id for _, v in versions],
                "issues": [v.issue for _, v in versions],
                "increments": [v.increment for _, v in versions],
                "statuses": [v.status for _, v in versions],
                "starts": [v.start_date for _, v in versions],
                "ends": [v.end_date for _, v in versions],
                "companies": [v.company_external_id for _, v in versions],
                "addresses": [v.address_external_id for _, v in versions],
            },
        )
    purposes = [(state, p) for _, lic, state in items for p in lic.purposes]
    if purposes:
        connection.execute(
            UPSERT_PURPOSES,
            {
                "external_ids": [p.external_id for _, p in purposes],
                "versions": [p.version_external_id for _, p in purposes],
                "primary_ids": [s.purposes_primary[p.primary] for s, p in purposes],
                "secondary_ids": [s.purposes_secondary[p.secondary] for s, p in purposes],
                "use_ids": [s.purposes_uses[p.use] for s, p in purposes],
                "start_days": [p.abstraction_period_start_day for _, p in purposes],
                "start_months": [p.abstraction_period_start_month for _, p in purposes],
                "end_days": [p.abstraction_period_end_day for _, p in purposes],
                "end_months": [p.abstraction_period_end_month for _, p in purposes],
                "tl_starts": [p.time_limited_start_date for _, p in purposes],
                "tl_ends": [p.time_limited_end_date for _, p in purposes],
                "notes": [p.notes for _, p in purposes],
                "quantities": [p.annual_quantity for _, p in purposes],
            },
        )
    skipped = []
    typed = []
    for _, lic, state in items:
        conditions = [(c, state.condition_types.get((c.code, c.subcode))) for c in lic.conditions]
        known = [(c, type_id) for c, type_id in conditions if type_id is not None]
        skipped.append(len(conditions) - len(known))
        typed += known
    if typed:
        connection.execute(
            UPSERT_CONDITIONS,
            {
                "external_ids": [c.external_id for c, _ in typed],
                "purposes": [c.purpose_external_id for c, _ in typed],
                "type_ids": [type_id for _, type_id in typed],
                "params_1": [c.param_1 for c, _ in typed],
                "params_2": [c.param_2 for c, _ in typed],
                "notes": [c.notes for c, _ in typed],
            },
        )
    return skipped


@dataclass(frozen=True)
class Written:
    licence_id: str
    end_dates_changed: bool
    flagged_supplementary: bool
    conditions_skipped: int


def write_licences(
    connection: Connection,
    licences: Sequence[LicenceImport],
    states: Sequence[WrlsState],
    end_dates_changed: Sequence[bool],
) -> list[Written]:
    """Every write of some licences, in the caller's transaction (``check_reference_data`` first): a
    statement per table for all of them, in their order."""
    if not licences:
        return []
    ids = upsert_licences(connection, [lic.licence for lic in licences], states)
    flagged = flag_supplementary_billing(
        connection, [licence_id for licence_id, changed in zip(ids, end_dates_changed, strict=True) if changed]
    )
    upsert_documents(connection, licences, states)
    skipped = upsert_versions(connection, ids, licences, states)
    return [
        Written(licence_id, changed, licence_id in flagged, n)
        for licence_id, changed, n in zip(ids, end_dates_changed, skipped, strict=True)
    ]


def reference_data_gaps(connection: Connection, region_codes: Sequence[int]) -> list[str]:
    """What the WRLS reference tables lack for a whole import: regions of these codes, purposes, roles."""
    row = (
        connection.execute(
            text("""
        SELECT ARRAY(SELECT c FROM unnest(CAST(:codes AS int[])) c
                      WHERE NOT EXISTS (SELECT 1 FROM water.regions r WHERE r.nald_region_id = c) ORDER BY c)
                 AS regions,
               EXISTS (SELECT 1 FROM water.purposes_primary) AS primary,
               EXISTS (SELECT 1 FROM water.purposes_secondary) AS secondary,
               EXISTS (SELECT 1 FROM water.purposes_uses) AS uses,
               ARRAY(SELECT n FROM unnest(CAST(:roles AS text[])) n
                      WHERE NOT EXISTS (SELECT 1 FROM crm_v2.roles r WHERE r.name = n) ORDER BY n) AS roles
    """),
            {"codes": list(region_codes), "roles": [LICENCE_HOLDER, RETURNS_TO]},
        )
        .mappings()
        .one()
    )
    gaps = []
    if row["regions"]:
        gaps.append(
            "water.regions has no region with nald_region_id "
            + ", ".join(str(c) for c in row["regions"])
            + " (seed the 8 NALD regions)"
        )
    empty = [f"water.purposes_{t}" for t in ("primary", "secondary", "uses") if not row[t]]
    if empty:
        gaps.append(f"{', '.join(empty)} empty (run charging-import-data first)")
    if row["roles"]:
        gaps.append(f"crm_v2.roles has no role named {', '.join(row['roles'])}")
    return gaps
