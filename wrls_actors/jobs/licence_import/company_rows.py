"""Read every NALD row that import-company needs for a chunk of parties, in one query.

The legacy made five queries per party (the party, its invoice accounts, its
licence versions, its licence roles, then their addresses), and the invoice
account one joined a ``DISTINCT`` over the whole of NALD_CHG_VERSIONS every
time. Here one prepared statement of CTEs gathers them all for every party of
a chunk, each CTE joined to the parties' (``FGAC_REGION_CODE``, ``ID``) or to
ids found in an earlier CTE, and hands them back as one JSON array per table
and party. The rules (dates, roles,
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from ...nald.licence_parts import prepare_once
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
    """SQL of the read of some parties: ``$1`` their places in the chunk, ``$2`` their regions, ``$3`` their
    ids; a row (part, place, JSON) per part and party that has any rows (``party``: the party's row).

    Every CTE row carries its party's place (``k``) and region and, as one composite column (``t``), the
    table's row, so ``json_agg(t)`` keeps the table's columns. ``= ANY(ARRAY(subquery))`` is a join to
    each party's values here, each value once per party: the planner then probes the (region, column)
    index for each (see ``nald/licence_parts``).
    """
    s = quote(schema)
    return f"""
    WITH keys AS (
      SELECT * FROM unnest($1::int[], $2::varchar[], $3::varchar[]) AS k(k, region, party)
    ), party AS (
      SELECT k.k, k.region, t FROM keys k
      JOIN {s}."NALD_PARTIES" t ON t."FGAC_REGION_CODE" = k.region AND t."ID" = k.party
    ), licence_versions AS (
      SELECT k.k, k.region, t FROM keys k CROSS JOIN LATERAL (
        SELECT v.*, l."EXPIRY_DATE", l."REV_DATE", l."LAPSED_DATE"
        FROM {s}."NALD_ABS_LIC_VERSIONS" v
        JOIN {s}."NALD_ABS_LICENCES" l ON l."FGAC_REGION_CODE" = v."FGAC_REGION_CODE" AND l."ID" = v."AABL_ID"
        WHERE v."FGAC_REGION_CODE" = k.region AND v."ACON_APAR_ID" = k.party AND v."STATUS" <> 'DRAFT'
      ) t
    ), accounts AS (
      SELECT DISTINCT k.k, k.region, a."ACC_NO" FROM keys k
      JOIN {s}."NALD_LH_ACCS" a ON a."FGAC_REGION_CODE" = k.region AND a."ACON_APAR_ID" = k.party
    ), invoice_accounts AS (
      SELECT a.k, a.region, t FROM accounts a
      JOIN {s}."NALD_IAS_INVOICE_ACCS" t ON t."FGAC_REGION_CODE" = a.region AND t."ALHA_ACC_NO" = a."ACC_NO"
      WHERE NOT {is_null('t."IAS_XFER_DATE"')}
        AND EXISTS (SELECT 1 FROM {s}."NALD_CHG_VERSIONS" cv
                    WHERE cv."FGAC_REGION_CODE" = a.region AND cv."AIIA_ALHA_ACC_NO" = t."ALHA_ACC_NO"
                      AND cv."AIIA_IAS_CUST_REF" = t."IAS_CUST_REF" AND cv."STATUS" <> 'DRAFT')
    ), invoice_parties AS (
      SELECT i.k, i.region, t FROM (SELECT DISTINCT k, region, (t)."ACON_APAR_ID" AS v FROM invoice_accounts) i
      JOIN {s}."NALD_PARTIES" t ON t."FGAC_REGION_CODE" = i.region AND t."ID" = i.v
    ), licence_roles AS (
      SELECT k.k, k.region, t FROM keys k
      JOIN {s}."NALD_LIC_ROLES" t ON t."FGAC_REGION_CODE" = k.region AND t."ACON_APAR_ID" = k.party
    ), addresses AS (
      SELECT i.k, i.region, t FROM (
        SELECT k, region, (t)."ACON_AADD_ID" AS v FROM licence_versions
        UNION SELECT k, region, (t)."ACON_AADD_ID" FROM invoice_accounts
        UNION SELECT k, region, (t)."ACON_AADD_ID" FROM licence_roles
      ) i
      JOIN {s}."NALD_ADDRESSES" t ON t."FGAC_REGION_CODE" = i.region AND t."ID" = i.v
    )
    SELECT 'party' AS part, k, json_agg(t) AS rows FROM party GROUP BY k
    UNION ALL SELECT 'licence_versions', k, json_agg(t) FROM licence_versions GROUP BY k
    UNION ALL SELECT 'invoice_accounts', k, json_agg(t) FROM invoice_accounts GROUP BY k
    UNION ALL SELECT 'invoice_parties', k, json_agg(t) FROM invoice_parties GROUP BY k
    UNION ALL SELECT 'licence_roles', k, json_agg(t) FROM licence_roles GROUP BY k
    UNION ALL SELECT 'addresses', k, json_agg(t) FROM addresses GROUP BY k
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

    As for licences: planning the statement costs more than running it for a
    few parties. A prepared statement lives as long as its pooled connection
    and is re-planned by PostgreSQL when the tables it names are replaced.
    """
    name = "nald_companies_rows_" + re.sub(r"\W", "_", schema)
    return prepare_once(connection, name, "int[], varchar[], varchar[]", lambda: rows_query(schema))


def read_companies(
    connection: Connection, parties: Sequence[tuple[str, str]], schema: str = SCHEMA
) -> dict[tuple[str, str], CompanyRows]:
    """Every NALD row import-company needs for each of ``parties`` ((region, party id)), in one statement;
    a party that is not in the extract is left out."""
    if not parties:
        return {}
    name = _prepared(connection, schema)
    result = connection.exec_driver_sql(
        f"EXECUTE {name} (%s, %s, %s)",
        (list(range(len(parties))), [region for region, _ in parties], [party for _, party in parties]),
    )
    found: list[dict[str, list[Row]]] = [{} for _ in parties]
    for part, k, rows in result:
        found[k][part] = rows
    return {
        parties[k]: CompanyRows(
            party=rows["party"][0], **{part: sort_rows(rows.get(part, []), order) for part, order in _ORDER.items()}
        )
        for k, rows in enumerate(found)
        if rows.get("party")
    }


def read_company(connection: Connection, region: str, party: str, schema: str = SCHEMA) -> CompanyRows | None:
    """Every NALD row import-company needs for party (``region``, ``party``); ``None`` if there is no such party."""
    return read_companies(connection, [(region, party)], schema).get((region, party))
