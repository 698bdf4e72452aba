"""Read every NALD row that import-company needs for one party, in one query.

The legacy made five queries per party (the party, its invoice accounts, its
licence versions, its licence roles, then their addresses), and the invoice
account one joined a ``DISTINCT`` over the whole of NALD_CHG_VERSIONS every
time. Here one prepared statement of CTEs gathers them all, each CTE keyed by
the party's (``FGAC_REGION_CODE``, ``ID``) or by ids found in an earlier CTE,
and hands them back as one JSON array per table. The rules (dates, roles,
agents) are left to :mod:`company_transforms`; this module only decides
*which* rows, with the legacy's filters:

- licence versions where the party is the holder, not ``DRAFT``, with the
  licence's ``EXPIRY_DATE``, ``REV_DATE`` and ``LAPSED_DATE``;
- invoice accounts: the NALD_IAS_INVOICE_ACCS rows of the party's licence
  holder accounts (NALD_LH_ACCS), transferred (``IAS_XFER_DATE`` not
  ``'null'``) and used by a charge version that is not ``DRAFT``;
- the parties of those invoice accounts (the legacy joined them, so a row
  whose party is missing is dropped by the transform);
- every NALD_LIC_ROLES row of the party;
- the addresses of all of these.

Legacy queries this replaces (DEFRA/water-abstraction-import, early 2024):
``src/modules/licence-import/extract/connectors/queries.js`` (getParty,
getInvoiceAccounts, getPartyLicenceVersions, getPartyLicenceRoles,
getAddresses) and ``extract/index.js`` (getCompanyData).

The extract's own indexes (``model/nald.py``) are keyed for licences; the
lookups by party need five more, which :func:`ensure_indexes` builds when
the extract lacks them (queue-companies calls it once per run).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from ...nald.rows import sort_rows
from ...nald.sql import is_null, quote

Row = dict[str, Any]
SCHEMA = "import"


@dataclass(frozen=True)
class CompanyRows:
    """One party's NALD rows, one list per table."""

    party: Row  # NALD_PARTIES
    licence_versions: list[Row] = field(default_factory=list)  # NALD_ABS_LIC_VERSIONS + licence end dates
    invoice_accounts: list[Row] = field(default_factory=list)  # NALD_IAS_INVOICE_ACCS
    invoice_parties: list[Row] = field(default_factory=list)  # NALD_PARTIES of the invoice accounts
    licence_roles: list[Row] = field(default_factory=list)  # NALD_LIC_ROLES
    addresses: list[Row] = field(default_factory=list)  # NALD_ADDRESSES of all the above


# (table, columns): the lookups by party the extract's own indexes do not cover.
PARTY_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("NALD_ABS_LIC_VERSIONS", ("FGAC_REGION_CODE", "ACON_APAR_ID")),
    ("NALD_LIC_ROLES", ("FGAC_REGION_CODE", "ACON_APAR_ID")),
    ("NALD_LH_ACCS", ("FGAC_REGION_CODE", "ACON_APAR_ID")),
    ("NALD_IAS_INVOICE_ACCS", ("FGAC_REGION_CODE", "ALHA_ACC_NO")),
    ("NALD_CHG_VERSIONS", ("FGAC_REGION_CODE", "AIIA_ALHA_ACC_NO")),
)

TABLES_READ = (
    "NALD_PARTIES",
    "NALD_ADDRESSES",
    "NALD_ABS_LICENCES",
    "NALD_ABS_LIC_VERSIONS",
    "NALD_LIC_ROLES",
    "NALD_LH_ACCS",
    "NALD_IAS_INVOICE_ACCS",
    "NALD_CHG_VERSIONS",
)


INDEX_COLUMNS = text("""
    SELECT t.relname AS table_name, array_agg(a.attname::text ORDER BY k.ord) AS columns
    FROM pg_index i
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k (attnum, ord)
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
    WHERE n.nspname = :schema
    GROUP BY i.indexrelid, t.relname
""")


def ensure_indexes(connection: Connection, schema: str = SCHEMA) -> list[str]:
    """Build the indexes of :data:`PARTY_INDEXES` that no index of the table leads with; returns their names.

    Without them each company's read scans five tables of 10^5 rows: about
    0.1 s a party, two hours for a production extract. Built here rather
    than by the NALD load because that is another job's model; if
    ``model/nald.py`` lists them, nothing is built.
    """
    present: dict[str, list[tuple[str, ...]]] = {}
    for row in connection.execute(INDEX_COLUMNS, {"schema": schema}):
        present.setdefault(row.table_name, []).append(tuple(row.columns))
    built = []
    for table, columns in PARTY_INDEXES:
        if any(existing[: len(columns)] == columns for existing in present.get(table, ())):
            continue
        name = f"{table}_by_{columns[-1]}".lower()
        connection.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(schema)}.{quote(table)} "
            f"({', '.join(quote(c) for c in columns)})"
        )
        built.append(name)
    return built


def rows_query(schema: str = SCHEMA) -> str:
    """SQL of the read: one row, a JSON value per table (parameters ``:region``, ``:party``).

    ``= ANY(ARRAY(subquery))`` rather than ``IN (subquery)``: the planner then
    always probes the (region, column) index (see ``nald_import/licence_rows``).
    """
    s = quote(schema)
    return f"""
    WITH party AS (
      SELECT * FROM {s}."NALD_PARTIES" WHERE "FGAC_REGION_CODE" = :region AND "ID" = :party
    ), licence_versions AS (
      SELECT v.*, l."EXPIRY_DATE", l."REV_DATE", l."LAPSED_DATE"
      FROM {s}."NALD_ABS_LIC_VERSIONS" v
      JOIN {s}."NALD_ABS_LICENCES" l ON l."FGAC_REGION_CODE" = v."FGAC_REGION_CODE" AND l."ID" = v."AABL_ID"
      WHERE v."FGAC_REGION_CODE" = :region AND v."ACON_APAR_ID" = :party AND v."STATUS" <> 'DRAFT'
    ), accounts AS (
      SELECT "ACC_NO" FROM {s}."NALD_LH_ACCS" WHERE "FGAC_REGION_CODE" = :region AND "ACON_APAR_ID" = :party
    ), invoice_accounts AS (
      SELECT i.* FROM {s}."NALD_IAS_INVOICE_ACCS" i
      WHERE i."FGAC_REGION_CODE" = :region AND i."ALHA_ACC_NO" = ANY(ARRAY(SELECT "ACC_NO" FROM accounts))
        AND NOT {is_null('i."IAS_XFER_DATE"')}
        AND EXISTS (SELECT 1 FROM {s}."NALD_CHG_VERSIONS" cv
                    WHERE cv."FGAC_REGION_CODE" = :region AND cv."AIIA_ALHA_ACC_NO" = i."ALHA_ACC_NO"
                      AND cv."AIIA_IAS_CUST_REF" = i."IAS_CUST_REF" AND cv."STATUS" <> 'DRAFT')
    ), invoice_parties AS (
      SELECT * FROM {s}."NALD_PARTIES"
      WHERE "FGAC_REGION_CODE" = :region AND "ID" = ANY(ARRAY(SELECT "ACON_APAR_ID" FROM invoice_accounts))
    ), licence_roles AS (
      SELECT * FROM {s}."NALD_LIC_ROLES" WHERE "FGAC_REGION_CODE" = :region AND "ACON_APAR_ID" = :party
    ), addresses AS (
      SELECT * FROM {s}."NALD_ADDRESSES"
      WHERE "FGAC_REGION_CODE" = :region AND "ID" = ANY(ARRAY(
        SELECT "ACON_AADD_ID" FROM licence_versions UNION SELECT "ACON_AADD_ID" FROM invoice_accounts
        UNION SELECT "ACON_AADD_ID" FROM licence_roles))
    )
    SELECT (SELECT row_to_json(p) FROM party p LIMIT 1) AS party,
           (SELECT coalesce(json_agg(t), '[]'::json) FROM licence_versions t) AS licence_versions,
           (SELECT coalesce(json_agg(t), '[]'::json) FROM invoice_accounts t) AS invoice_accounts,
           (SELECT coalesce(json_agg(t), '[]'::json) FROM invoice_parties t) AS invoice_parties,
           (SELECT coalesce(json_agg(t), '[]'::json) FROM licence_roles t) AS licence_roles,
           (SELECT coalesce(json_agg(t), '[]'::json) FROM addresses t) AS addresses
    """


_ORDER = {
    "licence_versions": ("AABL_ID", "ISSUE_NO", "INCR_NO"),
    "invoice_accounts": ("IAS_CUST_REF", "IAS_XFER_DATE", "ALHA_ACC_NO"),
    "invoice_parties": ("ID",),
    "licence_roles": ("AABL_ID", "ALRT_CODE", "EFF_ST_DATE"),
    "addresses": ("ID",),
}


def _prepared(connection: Connection, schema: str) -> str:
    """The read, prepared once per database connection; returns its name.

    As for licences: planning the statement cost about as much as running
    it. A prepared statement lives as long as its pooled connection and is
    re-planned by PostgreSQL when the tables it names are replaced.
    """
    name = "nald_company_rows_" + re.sub(r"\W", "_", schema)
    prepared = connection.connection.info.setdefault("prepared", set())
    if name not in prepared:
        sql = rows_query(schema).replace(":region", "$1").replace(":party", "$2")
        connection.exec_driver_sql(f"PREPARE {name} (varchar, varchar) AS {sql}")
        prepared.add(name)
    return name


def read_company(connection: Connection, region: str, party: str, schema: str = SCHEMA) -> CompanyRows | None:
    """Every NALD row import-company needs for party (``region``, ``party``); ``None`` if there is no such party."""
    name = _prepared(connection, schema)
    result = connection.exec_driver_sql(f"EXECUTE {name} (%s, %s)", (region, party)).mappings().one()
    if result["party"] is None:
        return None
    return CompanyRows(party=result["party"], **{k: sort_rows(result[k], order) for k, order in _ORDER.items()})
