"""SQL for reading NALD's varchar numbers where a cast would fail the whole statement.

The legacy cast every column (``"FIN_YEAR"::integer``, ``"NET_AMOUNT"::numeric``),
so one stray value in two million bill lines stopped the import. Here a value
is checked against a pattern first: ``number()`` is NULL for NALD's NULL, and a
row is ``readable()`` only when every value it needs parses. Dates go through
the lookups of ``charging_import_data/lookups.py`` instead (``31/02/2019``
matches any pattern and still fails ``to_date``).
"""

from __future__ import annotations

from collections.abc import Iterable

_NUMBER = r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*$"
_INTEGER = r"^\s*[+-]?[0-9]{1,9}\s*$"


def is_null(column: str) -> str:
    return f"({column} IS NULL OR btrim({column}) IN ('', 'null'))"


def number(column: str) -> str:
    return f"(CASE WHEN {column} ~ '{_NUMBER}' THEN {column}::numeric END)"


def integer(column: str) -> str:
    return f"(CASE WHEN {column} ~ '{_INTEGER}' THEN {column}::integer END)"


def readable(numbers: Iterable[str] = (), integers: Iterable[str] = (), required: Iterable[str] = ()) -> str:
    """True when each of these columns is NULL or parses; ``required`` ones must be there and parse."""
    checks = [f"({is_null(c)} OR {c} ~ '{_NUMBER}')" for c in numbers]
    checks += [f"({is_null(c)} OR {c} ~ '{_INTEGER}')" for c in integers]
    checks += [f"coalesce({c} ~ '{_INTEGER}', false)" for c in required]
    return "(" + " AND ".join(checks or ["true"]) + ")"
