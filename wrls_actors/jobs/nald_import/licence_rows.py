"""Read every NALD row that import-licence needs for one licence, in two queries.

The legacy built the permit JSON and the returns with dozens of small queries
per licence (and a 5-minute Redis cache of the shared ones). Here the first
query finds the licence; the second, a statement of CTEs, gathers the rows of
every other table, each keyed by the licence's (``FGAC_REGION_CODE``, ``ID``)
or by ids found in an earlier CTE, and hands them back as one JSON array per
table. Joins between the tables (and every legacy filter that depends on the
date) are left to the pure code in :mod:`permit_json` and :mod:`returns`, so
this module only decides *which* rows.

Measured on a synthetic extract of 71,000 licences (local PostgreSQL 15): a
median 4 ms per licence (about 60 rows), half of it planning the second
statement; 7 ms when the licence lookup was a CTE of the same statement
(every CTE then filtered on a sub-select rather than a constant).

Legacy queries this replaces (DEFRA/water-abstraction-import, early 2024):
``src/modules/nald-import/lib/nald-queries/sql/{licences,parties,addresses,
purposes,roles,cams,returns}.js`` and ``nald-queries/purposes.js`` (getPurposes).

Rows are plain dicts with every column of the table (``SELECT *``: a real
extract has more columns than ``model/nald.py`` lists, and the permit JSON
keeps them all), values as stored. Each list is sorted in a fixed order, so
the same extract always gives the same ``LicenceRows``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Connection, text

from ...nald.rows import sort_rows
from ...nald.sql import licence_query, quote

Row = dict[str, Any]


@dataclass(frozen=True)
class LicenceRows:
    """One licence's NALD rows, one list per table (codes tables: only the codes used)."""

    licence: Row  # NALD_ABS_LICENCES
    versions: list[Row] = field(default_factory=list)  # NALD_ABS_LIC_VERSIONS
    licence_types: list[Row] = field(default_factory=list)  # NALD_WA_LIC_TYPES
    purposes: list[Row] = field(default_factory=list)  # NALD_ABS_LIC_PURPOSES, every version
    purpose_points: list[Row] = field(default_factory=list)  # NALD_ABS_PURP_POINTS
    conditions: list[Row] = field(default_factory=list)  # NALD_LIC_CONDITIONS
    condition_types: list[Row] = field(default_factory=list)  # NALD_LIC_COND_TYPES
    agreements: list[Row] = field(default_factory=list)  # NALD_LIC_AGRMNTS
    means_of_abstraction: list[Row] = field(default_factory=list)  # NALD_MEANS_OF_ABS
    roles: list[Row] = field(default_factory=list)  # NALD_LIC_ROLES, ended ones too
    role_types: list[Row] = field(default_factory=list)  # NALD_LIC_ROLE_TYPES
    parties: list[Row] = field(default_factory=list)  # NALD_PARTIES of versions and roles
    contacts: list[Row] = field(default_factory=list)  # NALD_CONTACTS of the versions' parties
    addresses: list[Row] = field(default_factory=list)  # NALD_ADDRESSES of contacts, versions, roles
    contact_numbers: list[Row] = field(default_factory=list)  # NALD_CONT_NOS of the roles' parties
    contact_number_types: list[Row] = field(default_factory=list)  # NALD_CONT_NO_TYPES
    cams: list[Row] = field(default_factory=list)  # NALD_REP_UNITS with CODE = AREP_CAMS_CODE
    return_versions: list[Row] = field(default_factory=list)  # NALD_RET_VERSIONS
    return_formats: list[Row] = field(default_factory=list)  # NALD_RET_FORMATS
    return_format_purposes: list[Row] = field(default_factory=list)  # NALD_RET_FMT_PURPOSES
    return_format_points: list[Row] = field(default_factory=list)  # NALD_RET_FMT_POINTS
    form_logs: list[Row] = field(default_factory=list)  # NALD_RET_FORM_LOGS
    points: list[Row] = field(default_factory=list)  # NALD_POINTS of purposes and formats
    sources: list[Row] = field(default_factory=list)  # NALD_SOURCES
    purposes_primary: list[Row] = field(default_factory=list)  # NALD_PURP_PRIMS
    purposes_secondary: list[Row] = field(default_factory=list)  # NALD_PURP_SECS
    purpose_uses: list[Row] = field(default_factory=list)  # NALD_PURP_USES
    mod_logs: list[Row] = field(default_factory=list)  # NALD_MOD_LOGS, licence (AABL_ID) and return (ARVN_AABL_ID)


@dataclass(frozen=True)
class _Part:
    """One CTE: rows of ``table`` matching ``where``; ``order`` columns sort them."""

    name: str
    table: str
    where: str
    order: tuple[str, ...]
    regional: bool = True  # national code tables have no FGAC_REGION_CODE


def _any(column: str, *sources: str) -> str:
    """``column = ANY(ARRAY(...))`` over ``cte.COLUMN`` sources.

    ``ANY(ARRAY(subquery))`` rather than ``IN (subquery)``: the planner then
    always probes the (region, column) index, instead of guessing a CTE's size
    and maybe scanning a table of millions of rows.
    """
    selects = " UNION ".join(f'SELECT "{c}" FROM {cte}' for cte, c in (s.split(".") for s in sources))
    return f'"{column}" = ANY(ARRAY({selects}))'


# Order matters: a CTE can only use the ones before it.
_PARTS: tuple[_Part, ...] = (
    _Part("versions", "NALD_ABS_LIC_VERSIONS", '"AABL_ID" = :id', ("ISSUE_NO", "INCR_NO")),
    _Part("licence_types", "NALD_WA_LIC_TYPES", _any("CODE", "versions.WA_ALTY_CODE"), ("CODE",), False),
    _Part("purposes", "NALD_ABS_LIC_PURPOSES", '"AABV_AABL_ID" = :id', ("AABV_ISSUE_NO", "AABV_INCR_NO", "ID")),
    _Part("purpose_points", "NALD_ABS_PURP_POINTS", _any("AABP_ID", "purposes.ID"), ("AABP_ID", "AAIP_ID")),
    _Part("conditions", "NALD_LIC_CONDITIONS", _any("AABP_ID", "purposes.ID"), ("AABP_ID", "DISP_ORD", "ID")),
    _Part("condition_types", "NALD_LIC_COND_TYPES", _any("CODE", "conditions.ACIN_CODE"), ("CODE", "SUBCODE"), False),
    _Part("agreements", "NALD_LIC_AGRMNTS", _any("AABP_ID", "purposes.ID"), ("AABP_ID", "EFF_ST_DATE")),
    _Part("means_of_abstraction", "NALD_MEANS_OF_ABS", _any("CODE", "purpose_points.AMOA_CODE"), ("CODE",), False),
    _Part("roles", "NALD_LIC_ROLES", '"AABL_ID" = :id', ("ALRT_CODE", "EFF_ST_DATE")),
    _Part("role_types", "NALD_LIC_ROLE_TYPES", _any("CODE", "roles.ALRT_CODE"), ("CODE",), False),
    _Part("parties", "NALD_PARTIES", _any("ID", "versions.ACON_APAR_ID", "roles.ACON_APAR_ID"), ("ID",)),
    _Part("contacts", "NALD_CONTACTS", _any("APAR_ID", "versions.ACON_APAR_ID"), ("APAR_ID", "AADD_ID")),
    _Part(
        "addresses",
        "NALD_ADDRESSES",
        _any("ID", "contacts.AADD_ID", "versions.ACON_AADD_ID", "roles.ACON_AADD_ID"),
        ("ID",),
    ),
    # Filtered on ACON_AADD_ID too by the caller: the index leads with (region, ACON_APAR_ID).
    _Part(
        "contact_numbers",
        "NALD_CONT_NOS",
        _any("ACON_APAR_ID", "roles.ACON_APAR_ID"),
        ("ACON_APAR_ID", "ACON_AADD_ID", "ACNT_CODE"),
    ),
    _Part("contact_number_types", "NALD_CONT_NO_TYPES", _any("CODE", "contact_numbers.ACNT_CODE"), ("CODE",), False),
    _Part("cams", "NALD_REP_UNITS", '"CODE" = :cams', ("CODE",)),
    _Part("return_versions", "NALD_RET_VERSIONS", '"AABL_ID" = :id', ("VERS_NO",)),
    _Part("return_formats", "NALD_RET_FORMATS", '"ARVN_AABL_ID" = :id', ("ARVN_VERS_NO", "ID")),
    _Part(
        "return_format_purposes",
        "NALD_RET_FMT_PURPOSES",
        _any("ARTY_ID", "return_formats.ID"),
        ("ARTY_ID", "APUR_APPR_CODE", "APUR_APSE_CODE", "APUR_APUS_CODE"),
    ),
    _Part("return_format_points", "NALD_RET_FMT_POINTS", _any("ARTY_ID", "return_formats.ID"), ("ARTY_ID", "AAIP_ID")),
    _Part("form_logs", "NALD_RET_FORM_LOGS", _any("ARTY_ID", "return_formats.ID"), ("ARTY_ID", "DATE_FROM")),
    _Part("points", "NALD_POINTS", _any("ID", "purpose_points.AAIP_ID", "return_format_points.AAIP_ID"), ("ID",)),
    _Part("sources", "NALD_SOURCES", _any("CODE", "points.ASRC_CODE"), ("CODE",), False),
    _Part(
        "purposes_primary",
        "NALD_PURP_PRIMS",
        _any("CODE", "purposes.APUR_APPR_CODE", "return_format_purposes.APUR_APPR_CODE"),
        ("CODE",),
        False,
    ),
    _Part(
        "purposes_secondary",
        "NALD_PURP_SECS",
        _any("CODE", "purposes.APUR_APSE_CODE", "return_format_purposes.APUR_APSE_CODE"),
        ("CODE",),
        False,
    ),
    _Part(
        "purpose_uses",
        "NALD_PURP_USES",
        _any("CODE", "purposes.APUR_APUS_CODE", "return_format_purposes.APUR_APUS_CODE"),
        ("CODE",),
        False,
    ),
    # Licence mod logs carry AABL_ID, return version ones ARVN_AABL_ID: both are indexed,
    # and the planner ORs the two index scans.
    _Part(
        "mod_logs",
        "NALD_MOD_LOGS",
        '("AABL_ID" = :id OR "ARVN_AABL_ID" = :id)',
        ("AABL_ID", "AABV_ISSUE_NO", "AABV_INCR_NO", "ARVN_VERS_NO", "AMRE_CODE"),
    ),
)

assert {p.name for p in _PARTS} == {f.name for f in fields(LicenceRows)} - {"licence"}


def rows_query(schema: str = "import") -> str:
    """SQL of the second query: one row, a JSON array per table (parameters ``region``, ``id``, ``cams``)."""
    s = quote(schema)
    ctes = []
    for part in _PARTS:
        where = f'"FGAC_REGION_CODE" = :region AND {part.where}' if part.regional else part.where
        ctes.append(f"{part.name} AS (SELECT * FROM {s}.{quote(part.table)} WHERE {where})")
    columns = [f"(SELECT coalesce(json_agg(t), '[]'::json) FROM {p.name} t) AS {p.name}" for p in _PARTS]
    return "WITH " + ",\n".join(ctes) + "\nSELECT " + ",\n".join(columns)


_QUERIES: dict[str, Any] = {}


def _prepared_rows_query(connection: Connection, schema: str) -> str:
    """The rows query, prepared once per database connection; returns its name.

    Planning the 28-part query cost about as much as running it, for every
    licence. A prepared statement lives as long as its connection (the pool
    keeps them), survives rollbacks, and is re-planned by PostgreSQL when the
    tables it names are replaced (the nightly swap).
    """
    name = "nald_licence_rows_" + re.sub(r"\W", "_", schema)
    prepared = connection.connection.info.setdefault("prepared", set())
    if name not in prepared:
        sql = rows_query(schema).replace(":region", "$1").replace(":id", "$2").replace(":cams", "$3")
        connection.exec_driver_sql(f"PREPARE {name} (varchar, varchar, varchar) AS {sql}")
        prepared.add(name)
    return name


def read_licence(connection: Connection, licence_ref: str, schema: str = "import") -> LicenceRows | None:
    """Every NALD row import-licence needs for ``licence_ref``; ``None`` if there is no such licence."""
    query = _QUERIES.get(schema)
    if query is None:
        query = _QUERIES[schema] = text(licence_query(schema))
    found = connection.execute(query, {"licence_ref": licence_ref}).mappings().first()
    if found is None:
        return None
    licence = dict(found)
    name = _prepared_rows_query(connection, schema)
    result = (
        connection.exec_driver_sql(
            f"EXECUTE {name} (%s, %s, %s)",
            (licence["FGAC_REGION_CODE"], licence["ID"], licence.get("AREP_CAMS_CODE")),
        )
        .mappings()
        .one()
    )
    return LicenceRows(licence=licence, **{p.name: sort_rows(result[p.name], p.order) for p in _PARTS})
