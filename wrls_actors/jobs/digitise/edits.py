"""The approved digitise edits that are due, read in bulk and replayed; shared by the two digitise jobs.

Selection: ``permit.licence`` rows of type 10
whose edits are ``Approved`` and whose job's last-copied date is null or at
least a day old. Each is replayed (:mod:`.reducer`) onto its NALD copy (type 8,
regime 1, same licence ref). Three queries in all, whatever the number of
licences: the edits, the NALD copies, the NALD conditions they link to.

A licence whose data is bad is kept with a ``problem`` instead of its items:
the job names it in the log, counts it and leaves it to be copied again on a
later run, and the other licences go on. The legacy crashed the process.

Legacy bugs fixed: one version of the legacy's permit connector selected the
rows copied *within* the last day (three days for the gauging stations,
``$gte``) instead of those copied at least a day ago, and its gauging-stations
selection did not read ``licence_id``, so the "last copied" update of that job
never found its row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import Column, Connection, Engine, bindparam, func, or_, select, text, update

from ...model import permit
from . import reducer, wr22
from .report import Skipped

DIGITISE_LICENCE_TYPE_ID = 10
Plan = TypeVar("Plan")
DUE_AFTER = text("interval '1 day'")


@dataclasses.dataclass(frozen=True)
class Item:
    """A WR22 condition of the replayed edits that links to a NALD condition."""

    id: Any
    schema: Any
    content: Any  # a mapping whenever it holds a URI
    uri: wr22.ConditionUri


@dataclasses.dataclass(frozen=True)
class Licence:
    """One licence's approved edits, replayed: its linked WR22 items, or why it cannot be copied."""

    permit_licence_id: int
    licence_ref: str
    items: tuple[Item, ...] = ()
    problem: str | None = None


@dataclasses.dataclass(frozen=True)
class Condition:
    """The newest NALD ``water.licence_version_purpose_conditions`` row of a NALD condition."""

    licence_version_purpose_condition_id: str
    licence_version_purpose_id: str
    licence_version_purpose_condition_type_id: str


def _is_due(column: Column):
    return or_(column.is_(None), column <= func.now() - DUE_AFTER)


def due(connection: Connection, column: Column) -> list[Licence]:
    """The approved edits due for ``column`` (a ``date_*_last_copied`` column), replayed; by licence ref."""
    t = permit.licence
    edits = connection.execute(
        select(t.c.licence_id, t.c.licence_ref, t.c.licence_data_value)
        .where(
            t.c.licence_type_id == DIGITISE_LICENCE_TYPE_ID,
            t.c.licence_data_value["status"].astext == reducer.STATUS_APPROVED,
            _is_due(column),
        )
        .order_by(t.c.licence_ref, t.c.licence_id)
    ).all()
    refs = sorted({row.licence_ref for row in edits})
    copies = (
        dict(
            connection.execute(
                select(t.c.licence_ref, t.c.licence_data_value).where(
                    t.c.licence_type_id == permit.NALD_LICENCE_TYPE_ID,
                    t.c.licence_regime_id == permit.NALD_REGIME_ID,
                    t.c.licence_ref.in_(bindparam("refs", expanding=True)),
                ),
                {"refs": refs},
            ).all()
        )
        if refs
        else {}
    )
    return [
        replayed(row.licence_id, row.licence_ref, row.licence_data_value, copies.get(row.licence_ref)) for row in edits
    ]


def replayed(permit_licence_id: int, licence_ref: str, edits: Any, nald_copy: Any) -> Licence:
    """One licence's edits replayed onto its NALD copy, keeping the items that link to a NALD condition (pure).

    An item with no condition URI links to nothing either job could write (the
    legacy LVPC job crashed on it); one with a malformed URI is bad data.
    """
    if wr22.value_at(nald_copy, "data", "current_version") is None:
        return Licence(permit_licence_id, licence_ref, problem="no NALD licence copy with a current version")
    try:
        state = reducer.replay(nald_copy, wr22.value_at(edits, "actions"))
        items = []
        for item in reducer.ar_items(state):
            content = item.get("content")
            uri = wr22.condition_uri(content)
            if uri is not None:
                items.append(Item(item.get("id"), item.get("schema"), content, uri))
    except reducer.ReplayError as error:
        return Licence(permit_licence_id, licence_ref, problem=f"its edits cannot be replayed: {error}")
    except wr22.BadData as error:
        return Licence(permit_licence_id, licence_ref, problem=str(error))
    return Licence(permit_licence_id, licence_ref, items=tuple(items))


def conditions(connection: Connection, licences: Iterable[Licence]) -> dict[str, Condition]:
    """The newest condition row of each NALD condition the items link to, by ``external_id`` prefix
    (``ID:REGION:``); absent when there is none."""
    prefixes = sorted({item.uri.external_id_prefix for licence in licences for item in licence.items})
    if not prefixes:
        return {}
    # The equality on the first two parts lets PostgreSQL join on it (a merge join over 300,000 rows in
    # bench/digitise.py: 0.3 s) instead of running a LIKE, a scan of the table, per item as the legacy did.
    rows = connection.execute(
        text("""
        SELECT DISTINCT ON (k.prefix) k.prefix, c.licence_version_purpose_condition_id,
               c.licence_version_purpose_id, c.licence_version_purpose_condition_type_id
          FROM unnest(CAST(:prefixes AS text[])) AS k(prefix)
          JOIN water.licence_version_purpose_conditions c
            ON split_part(c.external_id, ':', 1) || ':' || split_part(c.external_id, ':', 2) || ':' = k.prefix
           AND c.external_id LIKE k.prefix || '%'
         ORDER BY k.prefix, c.date_created DESC, c.licence_version_purpose_condition_id
    """),
        {"prefixes": prefixes},
    ).all()
    return {
        row.prefix: Condition(
            str(row.licence_version_purpose_condition_id),
            str(row.licence_version_purpose_id),
            str(row.licence_version_purpose_condition_type_id),
        )
        for row in rows
    }


def claim(connection: Connection, column: Column, permit_licence_id: int) -> bool:
    """Set the licence's last-copied date in the caller's transaction; False if it is no longer due.

    The update locks the row, so of two runs at once the second waits for the
    first to commit and then finds the licence copied already.
    """
    t = permit.licence
    claimed = connection.execute(
        update(t)
        .where(t.c.licence_id == permit_licence_id, _is_due(column))
        .values({column.name: func.now()})
        .returning(t.c.licence_id)
    ).first()
    return claimed is not None


def copy_each(
    engine: Engine,
    column: Column,
    due: Iterable[Licence],
    skipped: Skipped,
    plan: Callable[[Licence], Plan],
    write: Callable[[Connection, Licence, Plan], None],
) -> int:
    """Copy each licence on its own: ``plan`` its rows (pure; ``BadData`` skips the licence), then in one
    transaction take it (:func:`claim`) and ``write`` them. How many licences were copied."""
    copied = 0
    for licence in due:
        try:
            if licence.problem is not None:
                raise wr22.BadData(licence.problem)
            planned = plan(licence)
        except wr22.BadData as error:
            skipped.add(licence.licence_ref, licence.permit_licence_id, str(error))
            continue
        with engine.begin() as connection:
            if not claim(connection, column, licence.permit_licence_id):
                continue  # another run copied it meanwhile
            write(connection, licence, planned)
        copied += 1
    return copied
