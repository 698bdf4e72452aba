"""digitise-to-lvp-sync.sync-conditions: one ``water.licence_version_purpose_conditions`` row per WR22
condition of the approved digitise edits.

For each approved licence due (``date_licence_version_purpose_conditions_last_copied``
null or a day old; :mod:`..digitise.edits`), each WR22 item that links to a
NALD condition is upserted with:

- ``external_id = digitise:{permit licence_id}:{condition id}:{schema}``, the
  legacy's format, so the rows the legacy wrote are updated rather than
  duplicated (the condition id is that of the newest condition row of the
  item's NALD condition); two items of a licence with the same condition and
  schema are one row, the later item's;
- that condition row's ``licence_version_purpose_id`` and condition type;
- ``notes``: the WR22 text of the schema (:func:`..digitise.wr22.notes`);
- ``source = 'digitise'``.

A row whose values are already those is left alone (``date_updated`` too),
so a second run changes nothing. Rows of items later deleted from the edits
are kept, as in the legacy. Each licence's rows and its last-copied date are
written in one transaction of their own: a licence is either copied whole or
left for the next run, and the licences copied before a failing write stay
copied.

Bad data (edits that cannot be replayed, a malformed condition URI, a NALD
condition with no condition row, an item with no schema): the licence is
logged, counted as ``licences_skipped`` and named in the run's note, and not
marked copied; the others go on.

Legacy bugs fixed: besides the crashes (an item without a condition URI, a
NALD condition with no row), one version called ``getDigitiseText()`` with no
arguments and used ``digitise:{licence_id}:{licence_ref}`` as the external id,
so every item of a licence overwrote the same row; and the last-copied date
was set per item whether or not the upsert had succeeded.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

from sqlalchemy import Connection, text

from ...model import permit
from ...runtime import StepContext
from ..digitise import edits, wr22
from ..digitise.report import Skipped

COLUMN = permit.licence.c.date_licence_version_purpose_conditions_last_copied
SOURCE = "digitise"

UPSERT = text("""
INSERT INTO water.licence_version_purpose_conditions AS c
       (external_id, licence_version_purpose_id, licence_version_purpose_condition_type_id, notes, source)
SELECT n.external_id, n.licence_version_purpose_id, n.licence_version_purpose_condition_type_id, n.notes, :source
  FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS n(external_id text, licence_version_purpose_id uuid,
       licence_version_purpose_condition_type_id uuid, notes text)
ON CONFLICT (external_id) DO UPDATE
   SET licence_version_purpose_id = EXCLUDED.licence_version_purpose_id,
       licence_version_purpose_condition_type_id = EXCLUDED.licence_version_purpose_condition_type_id,
       notes = EXCLUDED.notes, source = EXCLUDED.source, date_updated = now()
 WHERE (c.licence_version_purpose_id, c.licence_version_purpose_condition_type_id, c.notes, c.source)
       IS DISTINCT FROM (EXCLUDED.licence_version_purpose_id, EXCLUDED.licence_version_purpose_condition_type_id,
                         EXCLUDED.notes, EXCLUDED.source)
RETURNING (xmax = 0) AS inserted
""")


@dataclasses.dataclass(frozen=True)
class ConditionRow:
    external_id: str
    licence_version_purpose_id: str
    licence_version_purpose_condition_type_id: str
    notes: str


def external_id(permit_licence_id: int, condition: edits.Condition, schema: str) -> str:
    return f"digitise:{permit_licence_id}:{condition.licence_version_purpose_condition_id}:{schema}"


def condition_rows(licence: edits.Licence, conditions: Mapping[str, edits.Condition]) -> list[ConditionRow]:
    """The rows the licence's items describe, one per external id; raises BadData (pure)."""
    rows: dict[str, ConditionRow] = {}
    for item in licence.items:
        condition = conditions.get(item.uri.external_id_prefix)
        if condition is None:
            raise wr22.BadData(f"no licence version purpose condition for {item.uri.uri}")
        if not isinstance(item.schema, str) or not item.schema:
            raise wr22.BadData(f"WR22 item {item.id} has no schema")
        key = external_id(licence.permit_licence_id, condition, item.schema)
        rows[key] = ConditionRow(
            key,
            condition.licence_version_purpose_id,
            condition.licence_version_purpose_condition_type_id,
            wr22.notes(item.schema, item.content),
        )
    return list(rows.values())


def sync_conditions(ctx: StepContext) -> None:
    skipped = Skipped(ctx)
    with ctx.engine.connect() as connection:
        due = edits.due(connection, COLUMN)
        conditions = edits.conditions(connection, due)

    added = updated = 0

    def write(connection: Connection, licence: edits.Licence, rows: list[ConditionRow]) -> None:
        nonlocal added, updated
        if rows:
            written = (
                connection.execute(
                    UPSERT, {"source": SOURCE, "rows": json.dumps([dataclasses.asdict(row) for row in rows])}
                )
                .scalars()
                .all()
            )
            added += sum(written)
            updated += len(written) - sum(written)

    copied = edits.copy_each(
        ctx.engine, COLUMN, due, skipped, lambda licence: condition_rows(licence, conditions), write
    )

    ctx.count("licences_copied", copied)
    ctx.count("conditions_added", added)
    ctx.count("conditions_updated", updated)
    ctx.logger.info(
        "%d licences copied, %d conditions added, %d updated, %d licences skipped",
        copied,
        added,
        updated,
        len(skipped.reasons),
    )
    ctx.end_run(
        skipped.note(f"{copied} licences copied, {added} licence version purpose conditions added, {updated} updated")
    )
