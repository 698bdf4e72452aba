"""A fixed order for NALD rows, whose every column is text.

Sorted as plain strings, ``'10'`` would come before ``'9'`` and
``'01/02/2020'`` before ``'31/12/2019'``; sorting by the values as the rules of
:mod:`.values` read them gives the same list for the same rows, whatever order
the database returned them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import groupby
from typing import Any, TypeVar

from .values import integer, is_null, nald_date

R = TypeVar("R", bound=Mapping[str, Any])


def sort_value(value: Any) -> tuple[int, int, str]:
    """Sort key of a NALD value: NULLs first, then whole numbers by value, dates by date, then text."""
    if isinstance(value, str):
        return _text_sort_value(value)
    return _sort_value(value)


# The same codes, dates and ids recur in row after row: an import sorts millions of values, a few
# hundred thousand of them distinct.
@lru_cache(maxsize=1 << 16)
def _text_sort_value(value: str) -> tuple[int, int, str]:
    return _sort_value(value)


def _sort_value(value: Any) -> tuple[int, int, str]:
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
    """``rows`` sorted by the ``order`` columns, then by every value (a total order: same rows, same list).

    Rows are ordered by their ``order`` values first; only rows equal on all of
    them are then ordered by every value (the same order as one key of both,
    without building the long key for the rows that do not need it).
    """

    rows = list(rows)
    if len(rows) < 2:
        return rows

    def whole(row: R) -> tuple[tuple[int, int, str], ...]:
        return tuple(sort_value(v) for v in row.values())

    # Each row's key made once (sorted and groupby would each make it again).
    keyed = sorted(((tuple(sort_value(row.get(c)) for c in order), row) for row in rows), key=_first)
    result: list[R] = []
    for _, tied in groupby(keyed, key=_first):
        group = [row for _, row in tied]
        result += sorted(group, key=whole) if len(group) > 1 else group
    return result


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]
