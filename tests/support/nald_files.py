"""Reading the rows of a generated NALD extract (as ``load_nald`` returns them) in tests."""

from __future__ import annotations

from datetime import date, datetime


def table(files: dict[str, list[list[str]]], name: str) -> list[dict[str, str]]:
    """The rows of one NALD table as dicts keyed by column."""
    header, *rows = files[name]
    return [dict(zip(header, row, strict=True)) for row in rows]


def nald_date(value: str) -> date | None:
    """A NALD ``DD/MM/YYYY`` value, written out here rather than taken from the code under test."""
    return None if value == "null" else datetime.strptime(value, "%d/%m/%Y").date()
