"""The digitise replay: the three arData action types, their errors, and the action types passed over."""

from __future__ import annotations

import copy

import pytest

from wrls_actors.jobs.digitise import reducer
from wrls_actors.jobs.digitise.reducer import ReplayError, ar_items, reduce, replay

NALD = {"ID": "1", "LIC_NO": "01/123", "data": {"current_version": {"licence": {"ISSUE_NO": "1"}}}}


def add(item_id, schema="/wr22/2.5", issue=1, increment=0):
    return {
        "type": "add.data",
        "payload": {
            "id": item_id,
            "schema": schema,
            "issueNumber": issue,
            "incrementNumber": increment,
            "user": {"id": 1},
            "timestamp": 1,
        },
    }


def edit(item_id, **data):
    return {"type": "edit.data", "payload": {"id": item_id, "data": data}}


def delete(item_id):
    return {"type": "delete.data", "payload": {"id": item_id}}


def test_initial_state_is_the_nald_copy_in_progress_with_no_notes():
    assert reducer.initial_state(NALD) == {"licence": NALD, "status": "In progress", "notes": []}


def test_no_actions_leave_the_nald_copy_with_no_ar_items():
    assert replay(NALD, None) == reducer.initial_state(NALD)
    assert ar_items(replay(NALD, [])) == []


def test_add_appends_an_empty_item_and_edits_merge_into_its_content_in_order():
    state = replay(
        NALD,
        [
            add("a"),
            edit("a", max_rate=5, unit="Ml/d"),
            add("b", "/wr22/2.1", 2, 1),
            edit("a", max_rate=7, gauging_station={"id": "x"}),
        ],
    )
    assert ar_items(state) == [
        {
            "id": "a",
            "schema": "/wr22/2.5",
            "issueNumber": 1,
            "incrementNumber": 0,
            "content": {"max_rate": 7, "unit": "Ml/d", "gauging_station": {"id": "x"}},
        },
        {"id": "b", "schema": "/wr22/2.1", "issueNumber": 2, "incrementNumber": 1, "content": {}},
    ]


def test_the_merge_is_shallow_a_nested_object_is_replaced_whole():
    state = replay(
        NALD,
        [
            add("a"),
            edit("a", measurement_point={"measurement_point_type": "NGR", "measurement_point_ngr": "SP123456"}),
            edit("a", measurement_point={"measurement_point_type": "Upstream"}),
        ],
    )
    assert ar_items(state)[0]["content"] == {"measurement_point": {"measurement_point_type": "Upstream"}}


def test_delete_removes_the_item_and_its_id_can_be_added_again():
    state = replay(NALD, [add("a"), add("b"), edit("b", max_rate=1), delete("a"), add("a", "/wr22/2.2")])
    assert [(i["id"], i["schema"], i["content"]) for i in ar_items(state)] == [
        ("b", "/wr22/2.5", {"max_rate": 1}),
        ("a", "/wr22/2.2", {}),
    ]


def test_existing_ar_data_of_the_copy_is_kept_and_added_to():
    licence = {**NALD, "arData": [{"id": "old", "schema": "/wr22/2.1", "content": {"unit": "m"}}]}
    assert [i["id"] for i in ar_items(replay(licence, [add("new")]))] == ["old", "new"]


@pytest.mark.parametrize(
    "actions, message",
    [
        ([add("a"), add("a")], "action 2: cannot add data with ID a, already exists"),
        ([add("a"), edit("b", max_rate=1)], "action 2: cannot edit data with ID b, not found"),
        ([edit("a", max_rate=1)], "action 1: cannot edit data with ID a, not found"),
        ([add("a"), delete("a"), delete("a")], "action 3: cannot delete data with ID a, not found"),
        ([add("a"), {"type": "edit.data", "payload": {"id": "a", "data": [1]}}], "action 2: edit of data with ID a"),
        ([{"type": "add.data"}], "action 1: add.data has no payload"),
        (["add.data"], "action 1: an action is not an object"),
        ({"type": "add.data"}, "the edits' actions are not a list"),
    ],
)
def test_errors_of_the_package_and_malformed_actions_stop_the_replay(actions, message):
    with pytest.raises(ReplayError, match=f"^{message}"):
        replay(NALD, actions)


def test_ids_are_compared_strictly_so_1_and_a_string_1_are_two_items():
    assert [i["id"] for i in ar_items(replay(NALD, [add(1), add("1")]))] == [1, "1"]
    with pytest.raises(ReplayError):
        replay(NALD, [add(1), edit("1", max_rate=2)])


@pytest.mark.parametrize(
    "kind",
    [
        "edit.purpose",
        "edit.licence",
        "edit.point",
        "edit.condition",
        "set.status",
        "edit.version",
        "edit.party",
        "edit.address",
        "something.else",
    ],
)
def test_action_types_that_do_not_touch_ar_data_are_passed_over(kind):
    # the payloads would crash the legacy on this copy (no purposes, versions or party); here they are ignored
    action = {
        "type": kind,
        "payload": {
            "purposeId": 1,
            "pointId": 1,
            "conditionId": 1,
            "partyId": 1,
            "addressId": 1,
            "data": {"arData": []},
            "status": "Approved",
        },
    }
    state = replay(NALD, [add("a"), action, edit("a", unit="m")])
    assert ar_items(state) == [
        {"id": "a", "schema": "/wr22/2.5", "issueNumber": 1, "incrementNumber": 0, "content": {"unit": "m"}}
    ]
    assert state["licence"]["data"] == NALD["data"] and state["status"] == "In progress"


def test_nothing_is_mutated():
    licence = copy.deepcopy({**NALD, "arData": [{"id": "old", "content": {"unit": "m"}}]})
    before = copy.deepcopy(licence)
    actions = [add("a"), edit("old", unit="mAOD"), edit("a", max_rate=1), delete("old")]
    frozen = copy.deepcopy(actions)
    state = replay(licence, actions)
    assert licence == before and actions == frozen
    assert [i["id"] for i in ar_items(state)] == ["a"]
    middle = reduce(reducer.initial_state(licence), edit("old", unit="x"))
    assert licence == before and ar_items(middle)[0]["content"] == {"unit": "x"}


def test_ar_data_that_is_not_a_list_of_objects_is_an_error():
    with pytest.raises(ReplayError, match="arData is not a list"):
        replay({**NALD, "arData": "x"}, [add("a")])
