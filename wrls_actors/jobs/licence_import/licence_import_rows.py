"""Read the NALD rows that licence-import's import-licence needs for one licence, in two queries.

The first query finds the licence by its number; the second, a statement of
CTEs keyed by the licence's (``FGAC_REGION_CODE``, ``ID``), returns one JSON
array per table. The rules (which versions count, which purposes belong to
which version) are left to :mod:`licence_transforms`.

Legacy queries this follows (DEFRA/water-abstraction-import, early 2024):
``src/modules/licence-import/extract/connectors/queries.js`` (getLicence,
getLicenceVersions, getLicencePurposes, getPurposeConditions, getLicenceRoles,
getParties, getAddresses) and ``extract/index.js`` (getLicenceData).

Not read, unlike the legacy: charge versions with their invoice accounts, and
the two-part tariff and section 130 agreements. The legacy's licence transform
used the charge versions only to widen the party and address lookups (no role
it wrote came from them: billing roles were off), and the agreements only when
``IMPORT_LICENCE_AGREEMENTS`` was on, which it was not. Reading them would cost
a scan of NALD_IAS_INVOICE_ACCS per licence (it is not indexed by customer
reference) for nothing written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from ...nald.sql import licence_query, quote

Row = dict[str, Any]


@dataclass(frozen=True)
class LicenceImportRows:
    """One licence's NALD rows, one list per table, each in a fixed order."""

    licence: Row  # NALD_ABS_LICENCES
    versions: list[Row] = field(default_factory=list)  # NALD_ABS_LIC_VERSIONS, STATUS <> 'DRAFT'
    purposes: list[Row] = field(default_factory=list)  # NALD_ABS_LIC_PURPOSES of every version of the licence
    conditions: list[Row] = field(default_factory=list)  # NALD_LIC_CONDITIONS of those purposes
    roles: list[Row] = field(default_factory=list)  # NALD_LIC_ROLES, ended ones too
    parties: list[Row] = field(default_factory=list)  # NALD_PARTIES of the versions and roles
    addresses: list[Row] = field(default_factory=list)  # NALD_ADDRESSES of the versions and roles


# name, table, where, order (text order: any fixed order makes the same extract read the same)
_PARTS: tuple[tuple[str, str, str, str], ...] = (
    ("versions", "NALD_ABS_LIC_VERSIONS", """"AABL_ID" = $2 AND "STATUS" <> 'DRAFT'""", '"ISSUE_NO", "INCR_NO"'),
    ("purposes", "NALD_ABS_LIC_PURPOSES", '"AABV_AABL_ID" = $2', '"ID"'),
    # ANY(ARRAY(...)) so the planner always probes the (region, column) index (see nald_import.licence_rows).
    ("conditions", "NALD_LIC_CONDITIONS", '"AABP_ID" = ANY(ARRAY(SELECT "ID" FROM purposes))', '"AABP_ID", "ID"'),
    ("roles", "NALD_LIC_ROLES", '"AABL_ID" = $2', '"ALRT_CODE", "EFF_ST_DATE", "ACON_APAR_ID", "ACON_AADD_ID"'),
    (
        "parties",
        "NALD_PARTIES",
        '"ID" = ANY(ARRAY(SELECT "ACON_APAR_ID" FROM versions UNION SELECT "ACON_APAR_ID" FROM roles))',
        '"ID"',
    ),
    (
        "addresses",
        "NALD_ADDRESSES",
        '"ID" = ANY(ARRAY(SELECT "ACON_AADD_ID" FROM versions UNION SELECT "ACON_AADD_ID" FROM roles))',
        '"ID"',
    ),
)

# The tables this reader needs in schema import.
TABLES = ("NALD_ABS_LICENCES", *(table for _, table, _, _ in _PARTS))


def rows_query(schema: str = "import") -> str:
    """The second query: one row of JSON arrays; ``$1`` is the region code, ``$2`` the licence id."""
    s = quote(schema)
    ctes = ",\n".join(
        f'{name} AS (SELECT * FROM {s}.{quote(table)} WHERE "FGAC_REGION_CODE" = $1 AND {where})'
        for name, table, where, _ in _PARTS
    )
    columns = ",\n".join(
        f"(SELECT coalesce(json_agg(t ORDER BY {order}), '[]'::json) FROM {name} t) AS {name}"
        for name, _, _, order in _PARTS
    )
    return f"WITH {ctes}\nSELECT {columns}"


def _prepared(connection: Connection, schema: str) -> str:
    """The rows query prepared once per database connection (planning costs as much as running it)."""
    name = "licence_import_rows_" + re.sub(r"\W", "_", schema)
    prepared = connection.connection.info.setdefault("prepared", set())
    if name not in prepared:
        connection.exec_driver_sql(f"PREPARE {name} (varchar, varchar) AS {rows_query(schema)}")
        prepared.add(name)
    return name


def read_licence_rows(connection: Connection, licence_ref: str, schema: str = "import") -> LicenceImportRows | None:
    """The NALD rows of ``licence_ref``; ``None`` when NALD_ABS_LICENCES has no such licence."""
    found = connection.execute(text(licence_query(schema)), {"licence_ref": licence_ref}).mappings().first()
    if found is None:
        return None
    licence = dict(found)
    result = (
        connection.exec_driver_sql(
            f"EXECUTE {_prepared(connection, schema)} (%s, %s)", (licence["FGAC_REGION_CODE"], licence["ID"])
        )
        .mappings()
        .one()
    )
    return LicenceImportRows(licence=licence, **{name: list(result[name]) for name, _, _, _ in _PARTS})
