"""The reads and writes of import-licence in the WRLS tables: one licence, a few batch statements.

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


STATE = text("""
    SELECT
      (SELECT region_id::text FROM water.regions WHERE nald_region_id = :region) AS region_id,
      (SELECT json_build_object('licence_id', licence_id, 'expired_date', expired_date,
                                'lapsed_date', lapsed_date, 'revoked_date', revoked_date)
         FROM water.licences WHERE licence_ref = :ref) AS before,
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


def read_state(connection: Connection, licence: LicenceImport) -> WrlsState:
    """One query: the region, the licence as WRLS holds it, and the ids of the codes and roles it uses."""
    row = (
        connection.execute(
            STATE,
            {
                "region": licence.licence.region_code,
                "ref": licence.licence.licence_ref,
                "primary": sorted({p.primary for p in licence.purposes}),
                "secondary": sorted({p.secondary for p in licence.purposes}),
                "uses": sorted({p.use for p in licence.purposes}),
                "codes": sorted({c.code for c in licence.conditions if c.code is not None}),
                "roles": [LICENCE_HOLDER, RETURNS_TO],
            },
        )
        .mappings()
        .one()
    )
    before = row["before"]
    if before is not None:
        before = {
            "licence_id": before["licence_id"],
            **{k: _day(before[k]) for k in ("expired_date", "lapsed_date", "revoked_date")},
        }
    return WrlsState(
        region_id=row["region_id"],
        before=before,
        purposes_primary=row["purposes_primary"],
        purposes_secondary=row["purposes_secondary"],
        purposes_uses=row["purposes_uses"],
        condition_types={(code, subcode): id_ for code, subcode, id_ in row["condition_types"]},
        roles=row["roles"],
    )


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
UPSERT_LICENCE = upsert(
    "water.licences",
    """SELECT CAST(:region_id AS uuid) AS region_id, CAST(:ref AS varchar) AS licence_ref,
              CAST(:undertaker AS boolean) AS is_water_undertaker, CAST(:regions AS jsonb) AS regions,
              CAST(:start AS date) AS start_date, CAST(:expired AS date) AS expired_date,
              CAST(:lapsed AS date) AS lapsed_date, CAST(:revoked AS date) AS revoked_date""",
    ("licence_ref",),
    ("region_id", "licence_ref", *_LICENCE_UPDATE),
    _LICENCE_UPDATE,
    "RETURNING licence_id::text",
)


def upsert_licence(connection: Connection, licence: Licence, state: WrlsState) -> str:
    """The water.licences row; returns its id."""
    licence_id = connection.execute(
        UPSERT_LICENCE,
        {
            "region_id": state.region_id,
            "ref": licence.licence_ref,
            "undertaker": licence.is_water_undertaker,
            "regions": json.dumps(licence.regions, sort_keys=True),
            "start": licence.start_date,
            "expired": licence.expired_date,
            "lapsed": licence.lapsed_date,
            "revoked": licence.revoked_date,
        },
    ).scalar()
    if licence_id is not None:
        return licence_id
    # Nothing written: the row was there, unchanged, and state.before is it.
    if state.before is None:
        raise RuntimeError(f"water.licences row of {licence.licence_ref} went away during its import")
    return state.before["licence_id"]


# Only the flag of the scheme the licence has charge versions in; nothing when it has none.
FLAG_SUPPLEMENTARY = text("""
    WITH schemes AS (
      SELECT bool_or(start_date < :sroc) AS presroc, bool_or(start_date >= :sroc) AS sroc
      FROM water.charge_versions WHERE licence_id = CAST(:licence_id AS uuid))
    UPDATE water.licences l
       SET include_in_supplementary_billing = CASE WHEN s.presroc THEN 'yes'
                                                   ELSE l.include_in_supplementary_billing END,
           include_in_sroc_supplementary_billing = CASE WHEN s.sroc THEN true
                                                        ELSE l.include_in_sroc_supplementary_billing END
      FROM schemes s
     WHERE l.licence_id = CAST(:licence_id AS uuid) AND (s.presroc OR s.sroc)
""")


def flag_supplementary_billing(connection: Connection, licence_id: str) -> bool:
    """Flag the licence for the supplementary bill runs of its charge versions' schemes; whether it has any.

    load/connectors/queries.js flagLicenceForSupplementaryBilling: PRESROC
    (``include_in_supplementary_billing = 'yes'``) when a charge version starts
    before 2022-04-01, SROC (``include_in_sroc_supplementary_billing``) when
    one starts on or after it; a flag already set stays set.
    """
    return connection.execute(FLAG_SUPPLEMENTARY, {"licence_id": licence_id, "sroc": SROC_START}).rowcount > 0


# --------------------------------------------------------------------------- crm_v2.documents and roles

# On document_ref: its unique index since 2024-10 (tactical-crm migration 20241014133216),
# which replaced the (regime, document_type, document_ref) one the legacy's ON CONFLICT named.
_DOCUMENT_UPDATE = ("start_date", "end_date", "external_id", "date_deleted")
UPSERT_DOCUMENT = upsert(
    "crm_v2.documents",
    """SELECT 'water'::varchar AS regime, 'abstraction_licence'::varchar AS document_type,
              CAST(:ref AS varchar) AS document_ref, CAST(:start AS date) AS start_date,
              CAST(:end AS date) AS end_date, CAST(:external_id AS varchar) AS external_id,
              NULL::timestamp AS date_deleted""",
    ("document_ref",),
    ("regime", "document_type", "document_ref", *_DOCUMENT_UPDATE),
    _DOCUMENT_UPDATE,
)

_ROLE_UPDATE = ("company_id", "contact_id", "address_id", "invoice_account_id", "end_date")
UPSERT_DOCUMENT_ROLES = upsert(
    "crm_v2.document_roles",
    """SELECT d.document_id, CAST(n.role_id AS uuid) AS role_id, c.company_id, co.contact_id, a.address_id,
              NULL::uuid AS invoice_account_id, n.start_date, n.end_date
       FROM unnest(CAST(:roles AS text[]), CAST(:starts AS date[]), CAST(:ends AS date[]),
                   CAST(:companies AS text[]), CAST(:contacts AS text[]), CAST(:addresses AS text[]))
              AS n (role_id, start_date, end_date, company, contact, address)
       JOIN crm_v2.documents d ON d.document_ref = :ref
       LEFT JOIN crm_v2.companies c ON c.external_id = n.company
       LEFT JOIN crm_v2.contacts co ON co.external_id = n.contact
       LEFT JOIN crm_v2.addresses a ON a.external_id = n.address""",
    ("document_id", "role_id", "start_date"),
    ("document_id", "role_id", "start_date", *_ROLE_UPDATE),
    _ROLE_UPDATE,
)


def upsert_document(connection: Connection, licence: LicenceImport, state: WrlsState) -> None:
    """The licence's crm_v2 document, undeleted if it was deleted, and its roles.

    Companies, contacts and addresses are found by external id among what the
    company stage wrote; one not there yet is left NULL until the next import.
    """
    document = licence.document
    connection.execute(
        UPSERT_DOCUMENT,
        {
            "ref": document.document_ref,
            "start": document.start_date,
            "end": document.end_date,
            "external_id": document.external_id,
        },
    )
    roles = licence.roles
    if roles:
        connection.execute(
            UPSERT_DOCUMENT_ROLES,
            {
                "ref": document.document_ref,
                "roles": [state.roles[r.role] for r in roles],
                "starts": [r.start_date for r in roles],
                "ends": [r.end_date for r in roles],
                "companies": [r.company_external_id for r in roles],
                "contacts": [r.contact_external_id for r in roles],
                "addresses": [r.address_external_id for r in roles],
            },
        )


# --------------------------------------------------------------------------- versions, purposes, conditions

_VERSION_UPDATE = ("licence_id", "status", "start_date", "end_date", "company_id", "address_id")
UPSERT_VERSIONS = upsert(
    "water.licence_versions",
    """SELECT CAST(:licence_id AS uuid) AS licence_id, n.issue, n.increment, n.status, n.start_date, n.end_date,
              n.external_id, c.company_id, a.address_id
       FROM unnest(CAST(:external_ids AS text[]), CAST(:issues AS int[]), CAST(:increments AS int[]),
                   CAST(:statuses AS text[]), CAST(:starts AS date[]), CAST(:ends AS date[]),
                   CAST(:companies AS text[]), CAST(:addresses AS text[]))
              AS n (external_id, issue, increment, status, start_date, end_date, company, address)
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


def upsert_versions(connection: Connection, licence_id: str, licence: LicenceImport, state: WrlsState) -> int:
    """Licence versions, their purposes, and the conditions of a type WRLS has; returns conditions skipped.

    Conditions whose (code, subcode) is not in
    water.licence_version_purpose_condition_types (NALD types that do not
    affect abstraction, AFFECTS_ABS 'N') are not imported, as the legacy's
    2025 rewrite does; its early-2024 code wrote a NULL type id and failed.
    """
    versions = licence.versions
    if versions:
        connection.execute(
            UPSERT_VERSIONS,
            {
                "licence_id": licence_id,
                "external_ids": [v.external_id for v in versions],
                "issues": [v.issue for v in versions],
                "increments": [v.increment for v in versions],
                "statuses": [v.status for v in versions],
                "starts": [v.start_date for v in versions],
                "ends": [v.end_date for v in versions],
                "companies": [v.company_external_id for v in versions],
                "addresses": [v.address_external_id for v in versions],
            },
        )
    purposes = licence.purposes
    if purposes:
        connection.execute(
            UPSERT_PURPOSES,
            {
                "external_ids": [p.external_id for p in purposes],
                "versions": [p.version_external_id for p in purposes],
                "primary_ids": [state.purposes_primary[p.primary] for p in purposes],
                "secondary_ids": [state.purposes_secondary[p.secondary] for p in purposes],
                "use_ids": [state.purposes_uses[p.use] for p in purposes],
                "start_days": [p.abstraction_period_start_day for p in purposes],
                "start_months": [p.abstraction_period_start_month for p in purposes],
                "end_days": [p.abstraction_period_end_day for p in purposes],
                "end_months": [p.abstraction_period_end_month for p in purposes],
                "tl_starts": [p.time_limited_start_date for p in purposes],
                "tl_ends": [p.time_limited_end_date for p in purposes],
                "notes": [p.notes for p in purposes],
                "quantities": [p.annual_quantity for p in purposes],
            },
        )
    conditions = [(c, state.condition_types.get((c.code, c.subcode))) for c in licence.conditions]
    typed = [(c, type_id) for c, type_id in conditions if type_id is not None]
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
    return len(conditions) - len(typed)


@dataclass(frozen=True)
class Written:
    licence_id: str
    end_dates_changed: bool
    flagged_supplementary: bool
    conditions_skipped: int


def write_licence(connection: Connection, licence: LicenceImport, state: WrlsState, end_dates_changed: bool) -> Written:
    """Every write of one licence, in the caller's transaction (``check_reference_data`` first)."""
    licence_id = upsert_licence(connection, licence.licence, state)
    flagged = flag_supplementary_billing(connection, licence_id) if end_dates_changed else False
    upsert_document(connection, licence, state)
    skipped = upsert_versions(connection, licence_id, licence, state)
    return Written(licence_id, end_dates_changed, flagged, skipped)


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
