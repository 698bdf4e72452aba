"""The legacy export's CSV, written by PostgreSQL: the header line and the ``COPY`` that formats every value.

The legacy formatted each value in JavaScript after node-postgres had parsed
it; its readers expect exactly that text, so each rule is kept, done in SQL so
that the rows stream out of ``COPY`` untouched by Python:

- NULL and the empty string: an empty field (also a NaN number, and a JSON
  ``null`` or ``""``).
- Booleans and numbers: bare (``true``, ``0``, ``9700``, ``1.5``). Numeric
  values are written exactly, trailing zeros trimmed (JavaScript's number
  formatting for every value it could hold exactly).
- Dates and timestamps: ISO 8601 in UTC with milliseconds
  (``2022-12-14T18:39:45.000Z``), or ``YYYY-MM-DD`` for a value at exactly
  UTC midnight (every ``date``). Timestamps without a time zone are read as
  UTC, as the legacy's process did.
- JSON objects and arrays (and PostgreSQL arrays): the compact JSON with a
  space after every ``:`` and ``,``, even inside strings, wrapped in quotes
  with quotes doubled. Top-level JSON strings are written as strings.
- Everything else (text, uuid, enums, times): quoted, quotes doubled.

The header is the column names camelCased (``region_id`` → ``regionId``,
``address_line_1`` → ``addressLine1``), each quoted.
"""

from __future__ import annotations

import dataclasses
from itertools import pairwise

# The legacy spaced every ``:`` and ``,`` of the compact JSON, inside strings too. jsonb's text already has
# one space after each separator, and JSON allows any padding: spacing every ``:`` and ``,`` of it, then
# reading it back as jsonb, spaces the strings' own and leaves one after each separator. (Three times
# faster than cutting the text into string tokens with a regular expression, which the json type needs:
# its text keeps the writer's padding and key order, which node-postgres kept too.)
_SPACED_JSONB = "replace(replace({v}::text, ':', ': '), ',', ', ')::jsonb::text"
# Outside its strings, JSON has no whitespace but padding: matching a whole string token first keeps a
# string's own; the padding matches the other alternative and is dropped, leaving what JSON.stringify wrote.
_COMPACT_JSON = r"""regexp_replace({v}::text, '("(?:[^"\\]|\\.)*")|\s+', '\1', 'g')"""
_SPACED_JSON = f"replace(replace({_COMPACT_JSON}, ':', ': '), ',', ', ')"

_ISO = (
    "CASE WHEN {t} = date_trunc('day', {t}) THEN to_char({t}, 'YYYY-MM-DD') "
    """ELSE to_char({t}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END"""
)

_BARE = {
    "boolean": "{v}::text",
    "smallint": "{v}::text",
    "integer": "{v}::text",
    "bigint": "{v}::text",
    "numeric": "CASE WHEN {v} = 'NaN' THEN NULL ELSE trim_scale({v})::text END",
    "real": "CASE WHEN {v} = 'NaN' THEN NULL ELSE {v}::text END",
    "double precision": "CASE WHEN {v} = 'NaN' THEN NULL ELSE {v}::text END",
    # node-postgres gave Date objects with milliseconds, cut (not rounded) from the microseconds.
    "date": "to_char({v}, 'YYYY-MM-DD')",
    "timestamp without time zone": _ISO.format(t="date_trunc('milliseconds', {v})"),
    "timestamp with time zone": _ISO.format(t="date_trunc('milliseconds', {v} AT TIME ZONE 'UTC')"),
}


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    type: str  # the base type as format_type() names it, without modifiers ("numeric", "jsonb")
    is_array: bool = False


def camel_case(name: str) -> str:
    """The legacy's column name mapper: each underscore dropped and the character after it upper-cased."""
    if not name:
        return name
    out = [name[0]]
    for previous, char in pairwise(name):
        if char != "_":
            out.append(char.upper() if previous == "_" else char)
    return "".join(out)


def build_header(columns: list[Column]) -> bytes:
    return (",".join('"' + camel_case(c.name).replace('"', '""') + '"' for c in columns) + "\n").encode()


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def build_value(column: Column) -> tuple[str, bool]:
    """The SQL expression giving the column's field text, and whether COPY must quote it."""
    v = quote_ident(column.name)
    if column.is_array:
        return _SPACED_JSONB.format(v=f"to_jsonb({v})"), True
    if column.type in ("json", "jsonb"):
        typeof = f"{column.type}_typeof({v})"
        spaced = (_SPACED_JSONB if column.type == "jsonb" else _SPACED_JSON).format(v=v)
        return (
            f"CASE {typeof} WHEN 'object' THEN {spaced} WHEN 'array' THEN {spaced} "
            f"WHEN 'string' THEN nullif({v} #>> '{{}}', '') WHEN 'null' THEN NULL ELSE {v}::text END"
        ), True
    if column.type in _BARE:
        return _BARE[column.type].format(v=v), False
    return f"nullif({v}::text, '')", True


def build_copy(schema: str, table: str, columns: list[Column]) -> str:
    """``COPY ... TO STDOUT`` of the table's rows (no header), every field formatted by the rules above."""
    values, quoted = [], []
    for i, column in enumerate(columns, 1):
        expression, quote = build_value(column)
        values.append(f"{expression} AS c{i}")
        if quote:
            quoted.append(f"c{i}")
    force = f", FORCE_QUOTE ({', '.join(quoted)})" if quoted else ""
    return (
        f"COPY (SELECT {', '.join(values)} FROM {quote_ident(schema)}.{quote_ident(table)}) "
        f"TO STDOUT WITH (FORMAT csv{force})"
    )
