"""The legacy's method for the two digitise jobs, as the baseline of bench/digitise.py.

Per licence: one query for its NALD copy, the replay, then per WR22 item with
a condition URI the legacy's queries, each its own statement (autocommit, as
the legacy's pool ran them):

- gauging stations: the newest condition row ``external_id LIKE
  '{id}:{region}%'``; if the item has a station and a threshold, the
  ``water.licences`` row by ref, the existing ``licence_gauging_stations``
  row, and an insert when there is none; then the last-copied date (per item);
- LVPC sync: the same LIKE query, the upsert, the last-copied date.

The legacy fired these without awaiting them, on a pool of ~10 connections;
here they are awaited, on ``connections`` connections (one licence at a time
each). The replay and the WR22 rules are our pure ports (the same CPU cost as
the legacy's helpers, and not what the comparison is about). Where the legacy
crashed (no condition row, a malformed URI, a replay error) the licence is
counted as an error and the next one goes on.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2

from wrls_actors.jobs.digitise import reducer, wr22

NALD_COPY = (
    "SELECT licence_data_value FROM permit.licence WHERE licence_type_id = 8 AND licence_regime_id = 1 "
    "AND licence_ref = %s"
)
NEWEST = (
    "SELECT licence_version_purpose_condition_id, licence_version_purpose_id, "
    "licence_version_purpose_condition_type_id FROM water.licence_version_purpose_conditions "
    "WHERE external_id LIKE %s ORDER BY date_created DESC LIMIT 1"
)
WATER_LICENCE = "SELECT licence_id FROM water.licences WHERE licence_ref = %s"
EXISTING = (
    "SELECT licence_gauging_station_id FROM water.licence_gauging_stations WHERE licence_id = %s "
    "AND gauging_station_id = %s AND restriction_type = %s AND threshold_unit = %s AND threshold_value = %s"
)
INSERT = (
    "INSERT INTO water.licence_gauging_stations (licence_id, gauging_station_id, "
    "licence_version_purpose_condition_id, alert_type, restriction_type, threshold_unit, threshold_value, "
    "source) VALUES (%s, %s, %s, %s, %s, %s, %s, 'digitise')"
)
UPSERT = (
    "INSERT INTO water.licence_version_purpose_conditions (licence_version_purpose_id, "
    "licence_version_purpose_condition_type_id, notes, external_id, source) VALUES (%s, %s, %s, %s, 'digitise') "
    "ON CONFLICT (external_id) DO UPDATE SET notes = EXCLUDED.notes, "
    "licence_version_purpose_id = EXCLUDED.licence_version_purpose_id, "
    "licence_version_purpose_condition_type_id = EXCLUDED.licence_version_purpose_condition_type_id, "
    "source = EXCLUDED.source, date_updated = now()"
)
COPIED = "UPDATE permit.licence SET {column} = now() WHERE licence_id = %s"


class Crash(Exception):
    """Where the legacy's un-awaited promise rejected and the process exited."""


def _items(cursor, ref: str, edits) -> list:
    cursor.execute(NALD_COPY, (ref,))
    row = cursor.fetchone()
    if row is None or wr22.value_at(row[0], "data", "current_version") is None:
        return []
    try:
        return reducer.ar_items(reducer.replay(row[0], wr22.value_at(edits, "actions")))
    except reducer.ReplayError as error:
        raise Crash(str(error)) from None


def _newest(cursor, content):
    uri = wr22.value_at(content, "nald_condition", "id")
    parts = str(uri).split("/")  # the legacy's parse: no check
    if len(parts) != 5:
        raise Crash(f"bad URI {uri!r}")
    cursor.execute(NEWEST, (f"{parts[4]}:{parts[3]}%",))
    row = cursor.fetchone()
    if row is None:
        raise Crash(f"no condition for {uri}")  # the legacy destructured null
    return row


def links_licence(cursor, permit_id: int, ref: str, edits) -> int:
    inserted = 0
    for item in _items(cursor, ref, edits):
        content = item.get("content")
        if not wr22.value_at(content, "nald_condition", "id"):
            continue
        condition_id = _newest(cursor, content)[0]
        try:
            threshold, station = wr22.threshold(content), wr22.gauging_station_id(content)
        except wr22.BadData as error:
            raise Crash(str(error)) from None
        if threshold is not None and station is not None:
            cursor.execute(WATER_LICENCE, (ref,))
            licence_id = cursor.fetchone()[0]
            cursor.execute(EXISTING, (licence_id, station, threshold.restriction_type, threshold.unit, threshold.value))
            if cursor.fetchone() is None:
                cursor.execute(
                    INSERT,
                    (
                        licence_id,
                        station,
                        condition_id,
                        wr22.alert_type(item.get("schema")),
                        threshold.restriction_type,
                        threshold.unit,
                        threshold.value,
                    ),
                )
                inserted += 1
        cursor.execute(COPIED.format(column="date_gauging_station_links_last_copied"), (permit_id,))
    return inserted


def lvpc_licence(cursor, permit_id: int, ref: str, edits) -> int:
    written = 0
    for item in _items(cursor, ref, edits):
        content = item.get("content")
        if not wr22.value_at(content, "nald_condition", "id"):
            continue
        condition_id, lvp_id, type_id = _newest(cursor, content)
        schema = item.get("schema")
        cursor.execute(
            UPSERT, (lvp_id, type_id, wr22.notes(schema, content), f"digitise:{permit_id}:{condition_id}:{schema}")
        )
        written += 1
        cursor.execute(COPIED.format(column="date_licence_version_purpose_conditions_last_copied"), (permit_id,))
    return written


JOBS = {"links": links_licence, "lvpc": lvpc_licence}


def run(db_url: str, job: str, licences: list[tuple], connections: int) -> dict:
    """The legacy's method over ``licences`` ((permit licence id, ref, edits) each); its figures."""
    handle = JOBS[job]
    local = threading.local()
    opened: list = []
    lock = threading.Lock()
    totals = {"licences": 0, "crashed": 0, "rows": 0}

    def one(licence) -> None:
        if not hasattr(local, "connection"):
            local.connection = psycopg2.connect(db_url)
            local.connection.autocommit = True
            with lock:
                opened.append(local.connection)
        with local.connection.cursor() as cursor:
            try:
                rows, crashed = handle(cursor, *licence), 0
            except Crash:
                rows, crashed = 0, 1
        with lock:
            totals["licences"] += 1
            totals["crashed"] += crashed
            totals["rows"] += rows

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(connections) as pool:
            list(pool.map(one, licences))
    finally:
        for connection in opened:
            connection.close()
    return {**totals, "seconds": time.perf_counter() - started}
