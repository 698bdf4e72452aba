"""digitise-to-licence-gauging-stations.copy-links: one licence gauging station per WR22 condition with a
gauging station and a threshold.

For each approved licence due (``date_gauging_station_links_last_copied``
null or a day old; :mod:`..digitise.edits`), each WR22 item that links to a
NALD condition gives a ``water.licence_gauging_stations`` row: the newest condition row of that NALD condition, the
item's gauging station, its threshold (unit, value, flow or level) and the
alert type of its schema, ``source = 'digitise'``. Items with no gauging
station, unit or value describe no link and are passed over, as in the legacy.

A row is added only if the licence has none for that station, restriction
type, unit and value, soft-deleted ones included (a link someone deleted stays
deleted), so a second run adds nothing. Each licence's rows and its
last-copied date are written in one transaction of their own: a licence is
either copied whole or left for the next run, and a write that fails (it
should not: the data is checked first) fails the run without undoing the
licences already copied.

Bad data (edits that cannot be replayed, a malformed condition URI, a NALD
condition with no condition row, a non-numeric value, an unknown gauging
station, no ``water.licences`` row for the ref): the licence is logged,
counted as ``licences_skipped`` and named in the run's note, and not marked
copied; the others go on.

Legacy bugs fixed: besides the crashes, one version never inserted (it tested
an empty list as "already exists"), another wrote ``source = 'digitse'`` and no
condition or alert type, and the last-copied date was set per item whether or
not the item was copied.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Mapping
from decimal import Decimal

from sqlalchemy import Connection, bindparam, select, text

from ...model import permit, water
from ...runtime import StepContext
from ..digitise import edits, wr22
from ..digitise.report import Skipped

COLUMN = permit.licence.c.date_gauging_station_links_last_copied

INSERT = text("""
INSERT INTO water.licence_gauging_stations (licence_id, gauging_station_id, licence_version_purpose_condition_id,
                                            source, restriction_type, threshold_unit, threshold_value, alert_type)
SELECT CAST(:licence_id AS uuid), n.gauging_station_id, n.licence_version_purpose_condition_id, 'digitise',
       n.restriction_type, n.threshold_unit, n.threshold_value, n.alert_type
  FROM jsonb_to_recordset(CAST(:links AS jsonb)) AS n(gauging_station_id uuid,
       licence_version_purpose_condition_id uuid, restriction_type text, threshold_unit text,
       threshold_value numeric, alert_type text)
 WHERE NOT EXISTS (
       SELECT 1 FROM water.licence_gauging_stations g
        WHERE g.licence_id = CAST(:licence_id AS uuid) AND g.gauging_station_id = n.gauging_station_id
          AND g.restriction_type = n.restriction_type AND g.threshold_unit = n.threshold_unit
          AND g.threshold_value = n.threshold_value)
RETURNING licence_gauging_station_id
""")


@dataclasses.dataclass(frozen=True)
class Link:
    gauging_station_id: str
    licence_version_purpose_condition_id: str
    restriction_type: str
    threshold_unit: str
    threshold_value: Decimal
    alert_type: str

    @property
    def key(self) -> tuple:
        """What makes two links of a licence the same (the legacy's duplicate check)."""
        return self.gauging_station_id, self.restriction_type, self.threshold_unit, self.threshold_value


def links(
    licence: edits.Licence,
    conditions: Mapping[str, edits.Condition],
    water_licence_id: str | None,
    stations: Collection[str],
) -> list[Link]:
    """The links the licence's items describe, each once; raises BadData (pure)."""
    found: dict[tuple, Link] = {}
    for item in licence.items:
        condition = conditions.get(item.uri.external_id_prefix)
        if condition is None:
            raise wr22.BadData(f"no licence version purpose condition for {item.uri.uri}")
        threshold, station = wr22.threshold(item.content), wr22.gauging_station_id(item.content)
        if threshold is None or station is None:
            continue
        if station not in stations:
            raise wr22.BadData(f"unknown gauging station {station}")
        link = Link(
            station,
            condition.licence_version_purpose_condition_id,
            threshold.restriction_type,
            threshold.unit,
            threshold.value,
            wr22.alert_type(item.schema),
        )
        found.setdefault(link.key, link)
    if found and water_licence_id is None:
        raise wr22.BadData(f"no water.licences row for {licence.licence_ref}")
    return list(found.values())


def copy_links(ctx: StepContext) -> None:
    skipped = Skipped(ctx)
    with ctx.engine.connect() as connection:
        due = edits.due(connection, COLUMN)
        conditions = edits.conditions(connection, due)
        water_licences = _water_licences(connection, {licence.licence_ref for licence in due})
        stations = _stations(
            connection,
            {station for licence in due for item in licence.items if (station := _station_or_none(item)) is not None},
        )

    added = 0

    def write(connection: Connection, licence: edits.Licence, planned: list[Link]) -> None:
        nonlocal added
        if planned:
            added += len(
                connection.execute(
                    INSERT,
                    {
                        "licence_id": water_licences[licence.licence_ref],
                        "links": json.dumps(
                            [
                                {**dataclasses.asdict(link), "threshold_value": str(link.threshold_value)}
                                for link in planned
                            ]
                        ),
                    },
                ).all()
            )

    copied = edits.copy_each(
        ctx.engine,
        COLUMN,
        due,
        skipped,
        lambda licence: links(licence, conditions, water_licences.get(licence.licence_ref), stations),
        write,
    )

    ctx.count("licences_copied", copied)
    ctx.count("links_added", added)
    ctx.logger.info(
        "%d licences copied, %d licence gauging stations added, %d licences skipped",
        copied,
        added,
        len(skipped.reasons),
    )
    ctx.end_run(skipped.note(f"{copied} licences copied, {added} licence gauging stations added"))


def _station_or_none(item: edits.Item) -> str | None:
    try:
        return wr22.gauging_station_id(item.content)
    except wr22.BadData:
        return None  # reported when the licence's links are planned


def _water_licences(connection: Connection, refs: set[str]) -> dict[str, str]:
    if not refs:
        return {}
    t = water.licences
    return dict(
        connection.execute(
            select(t.c.licence_ref, t.c.licence_id).where(t.c.licence_ref.in_(bindparam("refs", expanding=True))),
            {"refs": sorted(refs)},
        ).all()
    )


def _stations(connection: Connection, ids: set[str]) -> set[str]:
    if not ids:
        return set()
    t = water.gauging_stations
    return set(
        connection.execute(
            select(t.c.gauging_station_id).where(t.c.gauging_station_id.in_(bindparam("ids", expanding=True))),
            {"ids": sorted(ids)},
        ).scalars()
    )
