"""Deleting in bounded batches: each batch is its own short transaction, so a
large backlog never holds a long lock, and a run cut short keeps what it
deleted (the next run carries on).

Each task names its rows once, as a query returning their keys (``matching``);
the guard counts it and the deletion takes it ``LIMIT :batch`` at a time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from ...runtime import StepContext
from ..guards import check_deletion


def delete_in_batches(
    engine: Engine, table: str, key: str, matching: str, batch_rows: int, **params: Any
) -> tuple[int, int]:
    """Delete the rows of ``table`` whose ``key`` ``matching`` returns, ``batch_rows`` at a time.

    Returns (rows deleted, batches run); it stops at the first batch that
    finds less than a full batch.
    """
    statement = text(f"DELETE FROM {table} WHERE {key} IN ({matching} LIMIT :batch)")
    deleted = batches = 0
    while True:
        with engine.begin() as connection:
            n = connection.execute(statement, {**params, "batch": batch_rows}).rowcount
        deleted += n
        batches += 1
        if n < batch_rows:
            return deleted, batches


def guard(ctx: StepContext, table: str, matching: str, max_percent: float, **params: Any) -> None:
    """Refuse (deleting nothing) when ``matching`` is over ``max_percent`` of ``table``'s rows, unless forced.

    The count comes before the batches, not in their transaction: rows that
    become deletable meanwhile are deleted too, as the next run would.
    """
    with ctx.engine.connect() as connection:
        deleting = connection.execute(text(f"SELECT count(*) FROM ({matching}) m"), params).scalar_one()
        if not deleting:
            return
        live = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    check_deletion(ctx.params, table=table, deleting=deleting, live=live, max_percent=max_percent)


def count(ctx: StepContext, name: str, deleted: int, batches: int) -> None:
    """A task's counts: its rows, and the batches they took (a zero is kept, so every task shows)."""
    ctx.count(name, deleted)
    ctx.count(f"{name}_batches", batches)
