"""The SQL of an upsert that changes a row only when one of its values differs.

Imports run every night over data that mostly has not changed; rewriting
every row (and its ``date_updated``) every night, as the legacy did, made
every row look new and bloated the tables. ``ON CONFLICT (...) DO UPDATE``
followed by :func:`update_when_changed` leaves an unchanged row alone.
"""

from __future__ import annotations

from collections.abc import Sequence


def update_when_changed(columns: Sequence[str], alias: str = "t", stamp: str | None = "date_updated") -> str:
    """``SET c = excluded.c, ..., <stamp> = now() WHERE (<alias>.c, ...) IS DISTINCT FROM (excluded.c, ...)``.

    ``alias`` is the target table's alias in ``INSERT INTO ... AS <alias>``.
    """
    sets = [f"{c} = excluded.{c}" for c in columns] + ([f"{stamp} = now()"] if stamp else [])
    current = ", ".join(f"{alias}.{c}" for c in columns)
    wanted = ", ".join(f"excluded.{c}" for c in columns)
    return f"SET {', '.join(sets)} WHERE ({current}) IS DISTINCT FROM ({wanted})"
