"""gauging-stations-sync.sync-from-csv: ``gauging-stations/gauging-stations.csv``
(``WRLS_GAUGING_STATIONS_KEY``) into ``water.gauging_stations``.

Each row updates the station it matches, by hydrology station id, else
station reference, else WISKI id (the legacy's order), or is inserted; rows
missing from the file are kept, as in the legacy. Stations are referred to by
``water.licence_gauging_stations``, so a row is never matched to a second
station it would duplicate: two rows of the file matching one station, or a
row with nothing to match by (it would be inserted again after every change
of the file), fail the sync.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from ...config import config
from ...model.water import gauging_stations as table
from ...runtime import StepContext
from ..csv_sync import CsvSpec, Field, Problem, Row, bad_file, decimal, sync, uuid_or_none, write_rows

STATE_KEY = "gauging-stations-import"  # the legacy's water.application_state key
UNNAMED = "Unnamed Gauging Station"
MATCH_ORDER = ("hydrology_station_id", "station_reference", "wiski_id")


def _within(low: int, high: int):
    def parse(value: str) -> Decimal:
        number = decimal(value)
        if not low <= number <= high:
            raise ValueError(f"{value} is outside {low} to {high}")
        return number

    return parse


def _matchable(values: Mapping[str, Any]) -> Iterable[tuple[str | None, str]]:
    if all(values[c] is None for c in MATCH_ORDER):
        yield None, f"no {', '.join(MATCH_ORDER[:-1])} or {MATCH_ORDER[-1]} to match it by"


SPEC = CsvSpec(
    fields=(
        # The legacy kept a hydrology id only when it had a UUID's 36 characters; any other is no id.
        Field("hydrology_station_id", uuid_or_none, empty=None),
        Field("station_reference", empty=None),
        Field("wiski_id", empty=None),
        Field("label", empty=UNNAMED),
        Field("lat", _within(-90, 90), empty=None),
        Field("long", _within(-180, 180), empty=None),
        Field("easting", decimal, empty=None),
        Field("northing", decimal, empty=None),
        Field("grid_reference", empty=None),
        Field("catchment_name", empty=None),
        Field("river_name", empty=None),
    ),
    unique=MATCH_ORDER,
    check=_matchable,
)


def match(name: str, rows: list[Row], stations: Sequence[Mapping]) -> list[tuple[Row, Mapping | None]]:
    """Each row with the station it updates (None: a new one), in MATCH_ORDER.

    When several stations share a value, the oldest is matched (``stations`` come oldest first).
    """
    indexes: dict[str, dict[Any, Mapping]] = {column: {} for column in MATCH_ORDER}
    for station in stations:
        for column, index in indexes.items():
            if station[column] is not None:
                index.setdefault(station[column], station)
    pairs: list[tuple[Row, Mapping | None]] = []
    claimed: dict[Any, int] = {}
    problems: list[Problem] = []
    for row in rows:
        found = next((indexes[c][row.values[c]] for c in MATCH_ORDER if row.values[c] in indexes[c]), None)
        if found is not None:
            key = found["gauging_station_id"]
            if key in claimed:
                problems.append(
                    Problem(row.line, None, f"matches the same gauging station ({key}) as line {claimed[key]}")
                )
            claimed.setdefault(key, row.line)
        pairs.append((row, found))
    if problems:
        raise bad_file(name, problems)
    return pairs


def apply(connection: Connection, rows: list[Row]) -> Counter:
    stations = list(
        connection.execute(select(table).order_by(table.c.date_created, table.c.gauging_station_id)).mappings()
    )
    return write_rows(connection, table, "gauging_station_id", match(config().gauging_stations_key, rows, stations))


def sync_from_csv(ctx: StepContext) -> None:
    sync(ctx, object_key=config().gauging_stations_key, state_key=STATE_KEY, spec=SPEC, apply=apply)
