"""Distinct values of NALD columns, mapped by the rules of ``mapping.py``, as SQL lookup tables.

A column of 300,000 rows holds a few dozen codes or a few thousand dates:
reading only those and mapping them in Python keeps the rules in one place
(pure functions) while the rows themselves go from ``import`` to ``water`` in
one set-based statement per table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, text

from ...model.nald import S as IMPORT_SCHEMA
from ...runtime import StepContext
from .mapping import Lookup, lookup


def column_lookup(connection: Connection, table: str, columns: Sequence[str],
                  rule: Callable[[str | None], Any]) -> Lookup:
    """``rule`` applied to the distinct values of ``columns`` (taken together) of ``import.<table>``."""
    union = " UNION ".join(f'SELECT "{c}" FROM "{IMPORT_SCHEMA}"."{table}"' for c in columns)
    return lookup(connection.execute(text(union)).scalars().all(), rule)


def lookup_params(ctx: StepContext, connection: Connection, table: str, lookups: Sequence[tuple]) -> dict[str, list]:
    """The SQL parameters of a step's lookups, ``(name, columns, rule, ...)`` each; refused values reported."""
    params: dict[str, list] = {}
    for name, columns, rule, *_ in lookups:
        found = column_lookup(connection, table, columns, rule)
        report_unreadable(ctx, table, columns, found)
        params.update(found.params(name))
    return params


def unnest(name: str, sql_type: str) -> str:
    """The SQL of a lookup passed as ``<name>_raw`` and ``<name>_value`` arrays, as a table (raw, value)."""
    return (f"{name} (raw, value) AS (SELECT * FROM unnest(CAST(:{name}_raw AS text[]), "
            f"CAST(:{name}_value AS {sql_type}[])))")


def report_unreadable(ctx: StepContext, table: str, columns: Sequence[str], found: Lookup) -> None:
    for reason in found.unreadable.values():
        ctx.logger.warning("%s.%s: %s", table, "/".join(columns), reason)


def report_rows(ctx: StepContext, what: str, unreadable: int, examples: Sequence[str] | None,
                duplicates: int = 0) -> None:
    if unreadable:
        ctx.logger.warning("%d %s left out: values the rules cannot read (first: %s)", unreadable, what,
                           ", ".join(examples or ()))
    if duplicates:
        ctx.logger.warning("%d %s repeat the NALD key of another: one of each written", duplicates, what)
