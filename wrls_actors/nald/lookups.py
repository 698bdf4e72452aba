"""Distinct values of NALD columns, mapped by a rule of :mod:`.values`, as SQL lookup tables.

A column of 300,000 rows holds a few dozen codes or a few thousand dates:
reading only those and mapping them in Python keeps the rules in one place
(pure functions) while the rows themselves go from ``import`` to ``water`` in
one set-based statement per table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, text

from ..model.nald import S as IMPORT_SCHEMA
from ..runtime import StepContext


@dataclasses.dataclass(frozen=True)
class Lookup:
    """The readable distinct values of a column and what they map to, for SQL.

    ``raw`` holds the values as they are in ``import`` (NULL as ``''``: SQL
    joins on ``coalesce(column, '')``); ``unreadable`` maps each value the rule
    refused to its reason. A row whose value is not in ``raw`` is unreadable.
    """

    raw: list[str]
    value: list[Any]
    unreadable: dict[str, str]

    def params(self, name: str) -> dict[str, list]:
        return {f"{name}_raw": self.raw, f"{name}_value": self.value}


def lookup(values: Iterable[str | None], rule: Callable[[str | None], Any]) -> Lookup:
    """Apply ``rule`` to each distinct value; NULL (``None``) is offered to it as ``None``."""
    raw, mapped, unreadable = [], [], {}
    for value in sorted({"" if v is None else v for v in values}):
        try:
            result = rule(None if value == "" else value)
        except ValueError as e:
            unreadable[value] = str(e)
            continue
        raw.append(value)
        mapped.append(result)
    return Lookup(raw, mapped, unreadable)


def column_lookup(
    connection: Connection, table: str, columns: Sequence[str], rule: Callable[[str | None], Any]
) -> Lookup:
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
    return (
        f"{name} (raw, value) AS (SELECT * FROM unnest(CAST(:{name}_raw AS text[]), "
        f"CAST(:{name}_value AS {sql_type}[])))"
    )


def report_unreadable(ctx: StepContext, table: str, columns: Sequence[str], found: Lookup) -> None:
    for reason in found.unreadable.values():
        ctx.logger.warning("%s.%s: %s", table, "/".join(columns), reason)


def report_rows(
    ctx: StepContext, what: str, unreadable: int, examples: Sequence[str] | None, duplicates: int = 0
) -> None:
    if unreadable:
        ctx.logger.warning(
            "%d %s left out: values the rules cannot read (first: %s)", unreadable, what, ", ".join(examples or ())
        )
    if duplicates:
        ctx.logger.warning("%d %s repeat the NALD key of another: one of each written", duplicates, what)
