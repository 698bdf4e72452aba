"""What each digitise job writes for one replayed licence (pure): the links, the condition rows, the bad data."""

from __future__ import annotations

from decimal import Decimal

import pytest

from wrls_actors.jobs.digitise.edits import Condition, replayed
from wrls_actors.jobs.digitise.wr22 import BadData
from wrls_actors.jobs.digitise_to_licence_gauging_stations.copy_links import Link, links
from wrls_actors.jobs.digitise_to_lvp_sync.sync_conditions import ConditionRow, condition_rows

NALD = {"data": {"current_version": {"licence": {}}}}
STATION = "921cad5b-4af6-4f4d-b8dc-0198e1ab15f8"
OTHER_STATION = "83d78194-3c57-4ee0-81ad-16870b73c904"
CONDITIONS = {"100:1:": Condition("c100", "lvp100", "type100"), "101:1:": Condition("c101", "lvp101", "type101")}
WATER_LICENCE = "0b2ad98d-d131-4233-9edc-f57be0b4ae31"


def item(item_id, schema, **content):
    return [
        {"type": "add.data", "payload": {"id": item_id, "schema": schema}},
        {"type": "edit.data", "payload": {"id": item_id, "data": content}},
    ]


def cond(n, region=1):
    return {"id": f"nald://conditions/{region}/{n}", "value": f"condition {n}"}


def licence(*items, nald=NALD):
    return replayed(7, "01/123", {"status": "Approved", "actions": [a for i in items for a in i]}, nald)


def test_replayed_keeps_the_items_that_link_to_a_nald_condition():
    result = licence(
        item("a", "/wr22/2.5", nald_condition=cond(100)),
        item("b", "/wr22/2.9.1"),
        item("c", "/wr22/2.1", nald_condition={"value": "no id"}),
    )
    assert result.problem is None
    assert [(i.id, i.schema, i.uri.external_id_prefix) for i in result.items] == [("a", "/wr22/2.5", "100:1:")]


@pytest.mark.parametrize(
    "nald, actions, problem",
    [
        (None, [], "no NALD licence copy with a current version"),
        ({"data": {"current_version": None}}, [], "no NALD licence copy with a current version"),
        (
            NALD,
            [{"type": "delete.data", "payload": {"id": "x"}}],
            "its edits cannot be replayed: action 1: cannot delete data with ID x, not found",
        ),
        (
            NALD,
            item("a", "/wr22/2.5", nald_condition={"id": "nald://conditions/one/2"}),
            "malformed NALD condition URI 'nald://conditions/one/2'",
        ),
    ],
)
def test_replayed_reports_bad_data(nald, actions, problem):
    result = replayed(7, "01/123", {"status": "Approved", "actions": actions}, nald)
    assert (result.problem, result.items) == (problem, ())


def test_links_one_per_item_with_a_station_and_a_threshold_each_once():
    result = licence(
        item(
            "a",
            "/wr22/2.5",
            nald_condition=cond(100),
            gauging_station={"id": STATION},
            max_rate=5,
            max_rate_unit="m³/s",
        ),
        item(
            "b",
            "/wr22/2.2",
            nald_condition=cond(101),
            gauging_station={"id": STATION},
            max_rate="5.0",
            max_rate_unit="m³/s",
        ),  # the same link as a: added once, a's
        item(
            "c",
            "/wr22/2.1",
            nald_condition=cond(101),
            gauging_station={"id": OTHER_STATION},
            hol_rate_level=3,
            unit="mAOD",
        ),
        item("d", "/wr22/2.6", nald_condition=cond(100), max_rate=5, max_rate_unit="l/s"),  # no station
        item("e", "/wr22/2.9.2", nald_condition=cond(100), gauging_station={"id": STATION}),  # no threshold
    )
    assert links(result, CONDITIONS, WATER_LICENCE, {STATION, OTHER_STATION}) == [
        Link(STATION, "c100", "flow", "m3/s", Decimal(5), "stop"),
        Link(OTHER_STATION, "c101", "level", "mAOD", Decimal(3), "stop"),
    ]


def test_links_of_a_licence_with_nothing_to_link_need_no_water_licence():
    assert links(licence(item("a", "/wr22/2.9.1", nald_condition=cond(100))), CONDITIONS, None, set()) == []


@pytest.mark.parametrize(
    "content, water_licence, problem",
    [
        (
            {"nald_condition": cond(999), "gauging_station": {"id": STATION}, "max_rate": 1, "unit": "l/s"},
            WATER_LICENCE,
            "no licence version purpose condition for nald://conditions/1/999",
        ),
        (
            {"nald_condition": cond(100, region=2)},
            WATER_LICENCE,
            "no licence version purpose condition for nald://conditions/2/100",
        ),
        (
            {"nald_condition": cond(100), "gauging_station": {"id": OTHER_STATION}, "max_rate": 1, "unit": "l/s"},
            WATER_LICENCE,
            f"unknown gauging station {OTHER_STATION}",
        ),
        (
            {"nald_condition": cond(100), "gauging_station": {"id": "GS1"}, "max_rate": 1, "unit": "l/s"},
            WATER_LICENCE,
            "gauging station id 'GS1' is not a UUID",
        ),
        (
            {"nald_condition": cond(100), "gauging_station": {"id": STATION}, "max_rate": "x", "unit": "l/s"},
            WATER_LICENCE,
            "threshold value 'x' is not a number",
        ),
        (
            {"nald_condition": cond(100), "gauging_station": {"id": STATION}, "max_rate": 1, "unit": "l/s"},
            None,
            "no water.licences row for 01/123",
        ),
    ],
)
def test_links_bad_data(content, water_licence, problem):
    with pytest.raises(BadData, match=f"^{problem}$"):
        links(licence(item("a", "/wr22/2.5", **content)), CONDITIONS, water_licence, {STATION})


def test_condition_rows_one_per_condition_and_schema_the_later_item_winning():
    result = licence(
        item("a", "/wr22/2.8", nald_condition=cond(100), max_rate=1, unit="l/s", delivery_method="Pipe", ngr="X"),
        item("b", "/wr22/2.9.1", nald_condition=cond(101)),
        item("c", "/wr22/2.8", nald_condition=cond(100), max_rate=2, unit="l/s", delivery_method="Pipe", ngr="Y"),
        item("d", "/wr22/2.9.1", nald_condition=cond(100)),
        item("e", "/wr22/2.9.1"),  # no condition: nothing to write
    )
    assert condition_rows(result, CONDITIONS) == [
        ConditionRow(
            "digitise:7:c100:/wr22/2.8",
            "lvp100",
            "type100",
            "The rate of flow of 2l/s shall be delivered via a Pipe located at Y.",
        ),
        ConditionRow("digitise:7:c101:/wr22/2.9.1", "lvp101", "type101", ""),
        ConditionRow("digitise:7:c100:/wr22/2.9.1", "lvp100", "type100", ""),
    ]


@pytest.mark.parametrize(
    "schema, problem",
    [
        ("/wr22/2.8", "no licence version purpose condition for nald://conditions/1/5"),
        (None, "no licence version purpose condition for nald://conditions/1/5"),
    ],
)
def test_condition_rows_bad_data_no_condition(schema, problem):
    with pytest.raises(BadData, match=f"^{problem}$"):
        condition_rows(licence(item("a", schema, nald_condition=cond(5))), CONDITIONS)


def test_condition_rows_bad_data_no_schema():
    with pytest.raises(BadData, match="^WR22 item a has no schema$"):
        condition_rows(licence(item("a", None, nald_condition=cond(100))), CONDITIONS)
