"""The two digitise jobs end to end: a real worker, RabbitMQ and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from tests.jobs.digitise.conftest import WATER_BODY, Digitise, add, condition
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from wrls_actors.jobs.digitise import wr22

LINKS_JOB = "digitise-to-licence-gauging-stations"
LVPC_JOB = "digitise-to-lvp-sync"
BAD = {
    "01/REDUCER-ERROR": "its edits cannot be replayed: action 1: cannot edit data with ID x, not found",
    "01/BAD-URI": "malformed NALD condition URI 'nald://conditions/x/100'",
    "01/NO-CONDITION": "no licence version purpose condition for nald://conditions/1/999",
}


@dataclasses.dataclass
class Scenario:
    station: str
    water: dict[str, str]  # licence ref → water.licences id
    permit: dict[str, int]  # licence ref → permit.licence id of the edits
    c100: dict  # the newest NALD row of condition 100 in region 1
    c101: dict
    contents: dict[str, dict]  # item → content


def scenario(wrls) -> Scenario:
    db = Digitise(wrls)
    station = db.station()
    db.nald_condition("100:1:4", created="now() - interval '1 year'")  # an older row of the same NALD condition
    c100 = db.nald_condition("100:1:5")
    db.nald_condition("100:10:8", created="now() + interval '1 hour'")  # region 10: the legacy's LIKE took it
    c101 = db.nald_condition("101:1:6")
    contents = {
        "flow": dict(
            nald_condition=condition(100),
            gauging_station={"id": station, "value": "3 Pools Channel"},
            water_body_name=WATER_BODY,
            max_rate=5,
            max_rate_unit="m³/s",
        ),
        "level": dict(
            nald_condition=condition(101),
            gauging_station={"id": station, "value": "3 Pools Channel"},
            water_body_name=WATER_BODY,
            measurement_point={"measurement_point_type": "Upstream"},
            hol_rate_level=10,
            unit="mAOD",
            point="Abstraction point",
        ),
        "no-threshold": dict(nald_condition=condition(101)),
        "old": dict(
            nald_condition=condition(101),
            gauging_station={"id": station, "value": "3 Pools Channel"},
            water_body_name=WATER_BODY,
            max_rate=2,
            max_rate_unit="l/s",
            rate_type="Daily",
            measurement_point={"measurement_point_type": "Borehole"},
            hol_rate_level=1,
            hol_rate_level_unit="mAOD",
        ),
    }
    edits = {
        "01/APPROVED": dict(
            actions=[
                *add("a", "/wr22/2.5", **contents["flow"]),
                *add("b", "/wr22/2.1", **contents["level"]),
                *add("c", "/wr22/2.9.1", **contents["no-threshold"]),
                *add("d", "/wr22/2.5", nald_condition=condition(999)),
                {"type": "delete.data", "payload": {"id": "d"}},
                {"type": "set.status", "payload": {"status": "Approved", "notes": "ok"}},
            ]
        ),
        "01/COPIED-2-DAYS-AGO": dict(
            actions=add("a", "/wr22/2.2", **contents["old"]), copied="now() - interval '2 days'"
        ),
        "01/IN-REVIEW": dict(actions=add("a", "/wr22/2.5", **contents["flow"]), status="In review"),
        "01/COPIED-AN-HOUR-AGO": dict(
            actions=add("a", "/wr22/2.5", **contents["flow"]), copied="now() - interval '1 hour'"
        ),
        "01/REDUCER-ERROR": dict(actions=[{"type": "edit.data", "payload": {"id": "x", "data": {}}}]),
        "01/BAD-URI": dict(
            actions=add("a", "/wr22/2.5", **{**contents["flow"], "nald_condition": {"id": "nald://conditions/x/100"}})
        ),
        "01/NO-CONDITION": dict(
            actions=add("a", "/wr22/2.5", **{**contents["flow"], "nald_condition": condition(999)})
        ),
    }
    water, permit = {}, {}
    for ref, edit in edits.items():
        water[ref] = db.water_licence(ref)
        db.nald_copy(ref)
        permit[ref] = db.edits(ref, **edit)
    return Scenario(station, water, permit, c100, c101, contents)


def copied_dates(wrls, column: str) -> dict[str, datetime | None]:
    return {
        r.licence_ref: r.copied
        for r in query(wrls, f"SELECT licence_ref, {column} AS copied FROM permit.licence WHERE licence_type_id = 10")
    }


def rows(wrls, table: str) -> list[tuple]:
    return [tuple(r) for r in query(wrls, f"SELECT * FROM water.{table} ORDER BY 1")]


def run(wrls, job: str):
    done = wait_run_ended(wrls, wrls.trigger(job), 30)
    assert done.status == "succeeded", done.error
    return done


def age(wrls, column: str, refs) -> None:
    """Make the licences' last copy two days older, as if the next day's run came."""
    with wrls.engine.begin() as connection:
        connection.exec_driver_sql(
            f"UPDATE permit.licence SET {column} = {column} - interval '2 days' "
            "WHERE licence_type_id = 10 AND licence_ref = ANY(%(refs)s)",
            {"refs": list(refs)},
        )


def assert_dates(wrls, column: str, before: dict, copied: set[str], started: datetime) -> dict:
    after = copied_dates(wrls, column)
    for ref, date in after.items():
        if ref in copied:
            assert date is not None and date >= started, (ref, date)
        else:
            assert date == before[ref], ref
    return after


def db_now(wrls) -> datetime:
    return scalar(wrls, "SELECT localtimestamp")


def test_links_to_gauging_stations_and_nothing_more_on_later_runs(wrls, worker, vhost):
    s = scenario(wrls)
    with wrls.engine.begin() as connection:  # the level link exists, deleted by a user: it must stay deleted
        connection.exec_driver_sql(
            "INSERT INTO water.licence_gauging_stations (licence_id, gauging_station_id, source, restriction_type, "
            "threshold_unit, threshold_value, date_deleted) VALUES (%(l)s, %(s)s, 'wrls', 'level', 'mAOD', 10.0, "
            "now())",
            {"l": s.water["01/APPROVED"], "s": s.station},
        )
    column = "date_gauging_station_links_last_copied"
    before = copied_dates(wrls, column)
    worker()
    wait_worker_ready(vhost, "default")

    started = db_now(wrls)
    first = run(wrls, LINKS_JOB)
    assert first.counts == {"licences_copied": 2, "links_added": 2, "licences_skipped": 3}
    assert first.note.startswith("2 licences copied, 2 licence gauging stations added; 3 licences skipped")
    for ref, problem in BAD.items():
        assert f"{ref}: {problem}" in first.note
    links = query(
        wrls,
        "SELECT licence_id::text, gauging_station_id::text, licence_version_purpose_condition_id::text, "
        "source, "
        "restriction_type, threshold_unit, threshold_value, alert_type, status, date_deleted "
        "FROM water.licence_gauging_stations WHERE source = 'digitise' ORDER BY alert_type",
    )
    assert [tuple(r) for r in links] == [
        (
            s.water["01/COPIED-2-DAYS-AGO"],
            s.station,
            s.c101["id"],
            "digitise",
            "flow",
            "l/s",
            2,
            "reduce",
            "resume",
            None,
        ),
        (s.water["01/APPROVED"], s.station, s.c100["id"], "digitise", "flow", "m3/s", 5, "stop", "resume", None),
    ]
    after = assert_dates(wrls, column, before, {"01/APPROVED", "01/COPIED-2-DAYS-AGO"}, started)
    table = rows(wrls, "licence_gauging_stations")
    assert len(table) == 3

    second = run(wrls, LINKS_JOB)  # the copied licences are not due for a day; the bad ones are skipped again
    assert second.counts == {"licences_copied": 0, "links_added": 0, "licences_skipped": 3}
    assert rows(wrls, "licence_gauging_stations") == table
    assert copied_dates(wrls, column) == after

    age(wrls, column, ["01/APPROVED", "01/COPIED-2-DAYS-AGO"])
    started = db_now(wrls)
    third = run(wrls, LINKS_JOB)
    assert third.counts == {"licences_copied": 2, "links_added": 0, "licences_skipped": 3}
    assert rows(wrls, "licence_gauging_stations") == table
    assert_dates(wrls, column, before, {"01/APPROVED", "01/COPIED-2-DAYS-AGO"}, started)


def test_licence_version_purpose_conditions_upserted_and_unchanged_on_later_runs(wrls, worker, vhost):
    s = scenario(wrls)
    old_id = f"digitise:{s.permit['01/COPIED-2-DAYS-AGO']}:{s.c101['id']}:/wr22/2.2"
    with wrls.engine.begin() as connection:  # written by the legacy from older edits
        connection.exec_driver_sql(
            "INSERT INTO water.licence_version_purpose_conditions (licence_version_purpose_id, "
            "licence_version_purpose_condition_type_id, notes, external_id, source, date_updated) "
            "VALUES (gen_random_uuid(), %(t)s, 'older text', %(e)s, 'digitise', now() - interval '1 year')",
            {"t": s.c101["type"], "e": old_id},
        )
    column = "date_licence_version_purpose_conditions_last_copied"
    before = copied_dates(wrls, column)
    worker()
    wait_worker_ready(vhost, "default")

    started = db_now(wrls)
    first = run(wrls, LVPC_JOB)
    assert first.counts == {"licences_copied": 2, "conditions_added": 3, "conditions_updated": 1, "licences_skipped": 3}
    for ref, problem in BAD.items():
        assert f"{ref}: {problem}" in first.note
    written = query(
        wrls,
        "SELECT external_id, licence_version_purpose_id::text, "
        "licence_version_purpose_condition_type_id::text, "
        "notes, source, date_updated >= :t AS updated FROM water.licence_version_purpose_conditions "
        "WHERE source = 'digitise' ORDER BY external_id",
        t=started,
    )
    approved = s.permit["01/APPROVED"]
    assert sorted(tuple(r) for r in written) == sorted(
        [
            (
                f"digitise:{approved}:{s.c100['id']}:/wr22/2.5",
                s.c100["lvp"],
                s.c100["type"],
                wr22.notes("/wr22/2.5", s.contents["flow"]),
                "digitise",
                True,
            ),
            (
                f"digitise:{approved}:{s.c101['id']}:/wr22/2.1",
                s.c101["lvp"],
                s.c101["type"],
                wr22.notes("/wr22/2.1", s.contents["level"]),
                "digitise",
                True,
            ),
            (f"digitise:{approved}:{s.c101['id']}:/wr22/2.9.1", s.c101["lvp"], s.c101["type"], "", "digitise", True),
            (old_id, s.c101["lvp"], s.c101["type"], wr22.notes("/wr22/2.2", s.contents["old"]), "digitise", True),
        ]
    )
    assert wr22.notes("/wr22/2.5", s.contents["flow"]).startswith(
        "No abstraction shall take place when the flow in the ADUR as gauged by the Agency at its flow gauging "
        "station at 3 Pools Channel is equal to or less than 5m³/s as may be notified"
    )
    after = assert_dates(wrls, column, before, {"01/APPROVED", "01/COPIED-2-DAYS-AGO"}, started)
    table = rows(wrls, "licence_version_purpose_conditions")

    second = run(wrls, LVPC_JOB)
    assert second.counts == {
        "licences_copied": 0,
        "conditions_added": 0,
        "conditions_updated": 0,
        "licences_skipped": 3,
    }
    assert rows(wrls, "licence_version_purpose_conditions") == table
    assert copied_dates(wrls, column) == after

    age(wrls, column, ["01/APPROVED", "01/COPIED-2-DAYS-AGO"])
    started = db_now(wrls)
    third = run(wrls, LVPC_JOB)
    assert third.counts == {"licences_copied": 2, "conditions_added": 0, "conditions_updated": 0, "licences_skipped": 3}
    assert rows(wrls, "licence_version_purpose_conditions") == table  # date_updated included
    assert_dates(wrls, column, before, {"01/APPROVED", "01/COPIED-2-DAYS-AGO"}, started)
