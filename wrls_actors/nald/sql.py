"""SQL over schema ``import``: NALD's value rules as expressions, and the queries jobs share.

A cast fails the whole statement on one stray value (``"FIN_YEAR"::integer``
did so in the legacy), so a value is checked against the pattern of
:mod:`.values` first: ``number()`` is NULL for NALD's NULL, and a row is
``readable()`` only when every value it needs parses. Dates are not read here:
``31/02/2019`` matches any pattern and still fails ``to_date``, so they go
through :mod:`.lookups` instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection
from sqlalchemy import text as sql_text

from ..model.nald import NALD_TABLES
from ..model.nald import S as IMPORT_SCHEMA
from .values import INTEGER_PATTERN, NULL, NUMBER_PATTERN, SPACES

# An integer column holds up to nine digits, so the cast never overflows.
_SQL_INTEGER = INTEGER_PATTERN.replace("[0-9]+", "[0-9]{1,9}")
_SQL_SPACES = "E'" + SPACES.encode("unicode_escape").decode() + "'"


def quote(identifier: str) -> str:
    """``identifier`` as a quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def is_null(column: str) -> str:
    """SQL twin of :func:`.values.is_null`."""
    return f"({column} IS NULL OR lower(btrim({column}, {_SQL_SPACES})) IN ('', '{NULL}'))"


def nald_text(column: str) -> str:
    """SQL twin of :func:`.values.text`: the value, or NULL for NALD's NULL."""
    return f"(CASE WHEN {is_null(column)} THEN NULL ELSE {column} END)"


def number(column: str) -> str:
    return f"(CASE WHEN {column} ~ '{NUMBER_PATTERN}' THEN {column}::numeric END)"


def integer(column: str) -> str:
    return f"(CASE WHEN {column} ~ '{_SQL_INTEGER}' THEN {column}::integer END)"


def readable(numbers: Iterable[str] = (), integers: Iterable[str] = (), required: Iterable[str] = ()) -> str:
    """True when each of these columns is NULL or parses; ``required`` ones must be there and parse."""
    checks = [f"({is_null(c)} OR {c} ~ '{NUMBER_PATTERN}')" for c in numbers]
    checks += [f"({is_null(c)} OR {c} ~ '{_SQL_INTEGER}')" for c in integers]
    checks += [f"coalesce({c} ~ '{_SQL_INTEGER}', false)" for c in required]
    return "(" + " AND ".join(checks or ["true"]) + ")"


def licence_query(schema: str = IMPORT_SCHEMA) -> str:
    """The NALD_ABS_LICENCES row of a licence number (parameter ``licence_ref``)."""
    # LIC_NO should be unique; if not, the legacy took whichever row came first.
    return (
        f'SELECT * FROM {quote(schema)}."NALD_ABS_LICENCES" WHERE "LIC_NO" = :licence_ref '
        f'ORDER BY "FGAC_REGION_CODE", "ID" LIMIT 1'
    )


def licences_query(schema: str = IMPORT_SCHEMA) -> str:
    """The NALD_ABS_LICENCES row of each of some licence numbers (parameter ``licence_refs``, a list), as
    ``licence_query`` would find each."""
    return (
        f'SELECT DISTINCT ON ("LIC_NO") * FROM {quote(schema)}."NALD_ABS_LICENCES" '
        f'WHERE "LIC_NO" = ANY(CAST(:licence_refs AS varchar[])) ORDER BY "LIC_NO", "FGAC_REGION_CODE", "ID"'
    )


def missing_tables(connection: Connection, tables: Iterable[str] | None = None) -> list[str]:
    """Which of ``tables`` (default: every NALD table of the model) schema ``import`` lacks."""
    present = {
        r.table_name
        for r in connection.execute(
            sql_text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"), {"s": IMPORT_SCHEMA}
        )
    }
    wanted = [t.name for t in NALD_TABLES] if tables is None else list(tables)
    return [t for t in wanted if t not in present]
