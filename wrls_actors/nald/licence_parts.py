"""Licences' NALD rows read together: one statement of CTEs for a chunk of licences, each row tagged with its licence.

A job that imports licences in chunks names the tables it needs as
:class:`Part` s: each is the rows of one table whose column holds a value of
its sources, a source being a column of the licences themselves (``keys.id``,
``keys.cams``) or of the rows an earlier part found (``versions.ACON_APAR_ID``).
:func:`parts_query` makes one statement of them, and :func:`read_parts` runs
it (prepared once per connection) for the licences of a chunk and hands back,
for each licence, a list of rows per part.

Every CTE row carries its licence (``k``, its place in the chunk) and region,
and the table's row as one composite column (``t``), so ``json_agg(t)`` keeps
the table's columns exactly, whatever they are (an extract may have more than
the model lists). Each CTE is a join to its sources' values, each value once
per licence, so a row comes back once per licence that reaches it, and the
planner probes the table's (region, column) index for each; a part matched on
either of two columns is two joins (``c1 = v OR c2 = v`` is not an index
probe: it scans the table).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from .sql import quote

Row = dict[str, Any]


@dataclass(frozen=True)
class Part:
    """The rows of ``table`` whose ``columns`` (any of them) hold a value of ``sources`` (``cte.COLUMN``)."""

    name: str
    table: str
    columns: tuple[str, ...]
    sources: tuple[str, ...]
    regional: bool = True  # national code tables have no FGAC_REGION_CODE: matched on the value alone
    where: str = ""  # a further condition on the table's row ``t``
    order: str = ""  # the order of each licence's rows (SQL over ``t``), when the reader wants it from SQL


def _values(source: str) -> str:
    """``SELECT`` of one source's values, each with its licence (``k``) and region."""
    cte, column = source.split(".")
    value = column if cte == "keys" else f"(t).{quote(column)}"
    return f"SELECT DISTINCT k, region, {value} AS v FROM {cte}"


def _cte(part: Part, schema: str) -> str:
    values = " UNION ".join(_values(s) for s in part.sources)
    region = 't."FGAC_REGION_CODE" = s.region AND ' if part.regional else ""
    where = f" AND {part.where}" if part.where else ""
    joins = []
    for i, column in enumerate(part.columns):
        # Each join leaves out the rows an earlier one found: a row matching two columns comes once.
        earlier = "".join(f" AND t.{quote(c)} IS DISTINCT FROM s.v" for c in part.columns[:i])
        joins.append(
            f"SELECT s.k, s.region, t FROM ({values}) s "
            f"JOIN {quote(schema)}.{quote(part.table)} t ON {region}t.{quote(column)} = s.v{earlier}{where}"
        )
    return f"{part.name} AS ({' UNION ALL '.join(joins)})"


def parts_query(parts: Sequence[Part], schema: str) -> str:
    """The statement: for licences ``$1`` (their places in the chunk) in regions ``$2`` with NALD ids ``$3``
    and CAMS codes ``$4``, a row (part, place, JSON array of rows) per part and licence that has any rows."""
    keys = "keys AS (SELECT * FROM unnest($1::int[], $2::varchar[], $3::varchar[], $4::varchar[]) AS k(k, region, id, cams))"
    ctes = [keys] + [_cte(p, schema) for p in parts]
    selects = [
        f"SELECT '{p.name}' AS part, k, json_agg(t{' ORDER BY ' + p.order if p.order else ''}) AS rows "
        f"FROM {p.name} GROUP BY k"
        for p in parts
    ]
    return "WITH " + ",\n".join(ctes) + "\n" + "\nUNION ALL ".join(selects)


def prepare_once(connection: Connection, name: str, types: str, sql: Callable[[], str]) -> str:
    """``name``, prepared on this database connection as ``sql()`` with parameter ``types`` the first time
    it is asked for; the connection's info remembers it (the pool keeps the connection, and with it the
    statement)."""
    prepared = connection.connection.info.setdefault("prepared", set())
    if name not in prepared:
        connection.exec_driver_sql(f"PREPARE {name} ({types}) AS {sql()}")
        prepared.add(name)
    return name


def read_parts(
    connection: Connection, name: str, parts: Sequence[Part], schema: str, licences: Sequence[Mapping[str, Any]]
) -> list[dict[str, list[Row]]]:
    """For each of ``licences`` (NALD_ABS_LICENCES rows), its rows by part name (a part without rows absent).

    The statement is prepared once per database connection as ``name`` and ``schema``: planning it costs
    more than running it for a few licences. A prepared statement lives as long as its connection (the
    pool keeps them), survives rollbacks, and is planned again when the tables it names are replaced.
    """
    if not licences:
        return []
    statement = prepare_once(
        connection,
        f"{name}_{re.sub(r'[^A-Za-z0-9_]', '_', schema)}",
        "int[], varchar[], varchar[], varchar[]",
        lambda: parts_query(parts, schema),
    )
    result = connection.exec_driver_sql(
        f"EXECUTE {statement} (%s, %s, %s, %s)",
        (
            list(range(len(licences))),
            [lic["FGAC_REGION_CODE"] for lic in licences],
            [lic["ID"] for lic in licences],
            [lic.get("AREP_CAMS_CODE") for lic in licences],
        ),
    )
    found: list[dict[str, list[Row]]] = [{} for _ in licences]
    for part, k, rows in result:
        found[k][part] = rows
    return found
