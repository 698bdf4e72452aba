"""Guards that keep a short or cut input from costing real data.

A NALD extract cut at a row boundary is still a well-formed file: only its
size against what is in place gives it away. So a step that would delete (or
mark deleted) more than ``WRLS_MAX_DELETE_PERCENT`` of a table's live rows
refuses, and changes nothing, unless its run was started with ``force``.

The live total is counted first, then the statement runs and its own row
count is checked, all in one transaction that a refusal rolls back: the
number judged is exactly what the statement touched (a separate count could
disagree with it), and the predicate is written once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..runtime import PermanentError


def is_forced(params: Mapping[str, Any]) -> bool:
    """Whether the run was started with ``force`` (a declared boolean, checked when the run started)."""
    return params.get("force", False) is True


def check_deletion(
    params: Mapping[str, Any],
    *,
    table: str,
    deleting: int,
    live: int,
    max_percent: float,
    action: str = "delete",
    rows: str = "live rows",
) -> None:
    """Refuse to delete ``deleting`` of ``live`` rows of ``table`` when that is over ``max_percent``.

    Call it inside the transaction that deletes, before committing: raising
    rolls the deletion back. A forced run is let through.
    """
    if deleting <= live * max_percent / 100 or is_forced(params):
        return
    share = 100 * deleting / live if live else 100.0
    raise PermanentError(
        f"refusing to {action} {deleting:,} of {live:,} {rows} of {table} ({share:.1f}%, over "
        f"WRLS_MAX_DELETE_PERCENT={max_percent:g}): is the NALD extract short? Nothing was changed; "
        "start the run with force=true if the deletion is meant"
    )
