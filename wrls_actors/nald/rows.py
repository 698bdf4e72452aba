"""A fixed order for NALD rows, whose every column is text.

Sorted as plain strings, ``'10'`` would come before ``'9'`` and
``'01/02/2020'`` before ``'31/12/2019'``; sorting by the values as the rules of
:mod:`.values` read them gives the same list for the same rows, whatever order
the database returned them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from .values import integer, is_null, nald_date

R = TypeVar("R", bound=Mapping[str, Any])


def sort_value(value: Any) -> tuple[int, int, str]:
    """Sort key of a NALD value: NULLs first, then whole numbers by value, dates by date, then text."""
    if is_null(value):
        return (0, 0, "") if value is None else (0, 1, str(value))
    text = str(value)
    try:
        return (1, integer(text) or 0, text)
    except ValueError:
        pass
    try:
        day = nald_date(text)
    except ValueError:
        return (3, 0, text)
    assert day is not None
    return (2, day.year * 10000 + day.month * 100 + day.day, text)


def sort_rows(rows: Iterable[R], order: Sequence[str] = ()) -> list[R]:
    """``rows`` sorted by the ``order`` columns, then by every value (a total order: same rows, same list)."""
    return sorted(
        rows,
        key=lambda row: (
            tuple(sort_value(row.get(c)) for c in order),
            tuple(sort_value(v) for v in row.values()),
        ),
    )
