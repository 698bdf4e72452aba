"""The digitise replay: approved edits (``permit.licence`` type 10) applied to the NALD licence copy. Pure.

A port of the reducer of the legacy ``@envage/water-abstraction-helpers``
package (``src/digitise``: state-manager.js, reducer.js, ar-reducer.js), cut
down to what the two digitise jobs read: the WR22 conditions in
``state["licence"]["arData"]``. Only three action types change them, and they
are ported with their error cases:

- ``add.data``: appends ``{id, schema, issueNumber, incrementNumber, content: {}}``;
  an ``id`` already in ``arData`` is an error;
- ``edit.data``: merges ``payload.data`` into that item's ``content`` (a shallow
  merge, as immutability-helper's ``$merge``); an unknown ``id`` is an error;
- ``delete.data``: removes that item; an unknown ``id`` is an error.

Every other action type (``edit.purpose``, ``edit.licence``, ``edit.point``,
``edit.condition``, ``edit.version``, ``edit.party``, ``edit.address``,
``set.status``) edits the NALD data or the workflow status, which neither job
reads, so it is passed over and leaves the state as it is. The legacy crashed on
some of them when the NALD copy lacked a part they walk (``versions``,
``party``), which made the whole licence fail; here they cannot.

The legacy threw from inside un-awaited promises, so one bad licence crashed
the process; here a :class:`ReplayError` names the licence's problem and the
job skips that licence. Nothing is mutated: each action returns a new state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import JobDataError

STATUS_IN_PROGRESS = "In progress"
STATUS_APPROVED = "Approved"

ADD_DATA = "add.data"
EDIT_DATA = "edit.data"
DELETE_DATA = "delete.data"


class ReplayError(JobDataError):
    """The edits cannot be replayed onto this licence."""


def initial_state(nald_licence_data_value: Mapping[str, Any]) -> dict[str, Any]:
    """The state before the first edit: the NALD copy's ``licence_data_value`` (legacy getInitialState)."""
    return {"licence": nald_licence_data_value, "status": STATUS_IN_PROGRESS, "notes": []}


def replay(nald_licence_data_value: Mapping[str, Any], actions: Iterable[Any] | None) -> dict[str, Any]:
    """The state after every action, in order (legacy stateManager)."""
    if actions is None:
        actions = []
    if not isinstance(actions, list):
        raise ReplayError("the edits' actions are not a list")
    state = initial_state(nald_licence_data_value)
    for number, action in enumerate(actions, start=1):
        try:
            state = reduce(state, action)
        except ReplayError as error:
            raise ReplayError(f"action {number}: {error}") from None
    return state


def reduce(state: Mapping[str, Any], action: Any) -> dict[str, Any]:
    """The state after one action; the state as it is for an action type that does not touch ``arData``."""
    if not isinstance(action, Mapping):
        raise ReplayError("an action is not an object")
    handler = _HANDLERS.get(action.get("type"))
    if handler is None:
        return dict(state)
    payload = action.get("payload")
    if not isinstance(payload, Mapping):
        raise ReplayError(f"{action.get('type')} has no payload")
    return handler(state, payload)


def ar_items(state: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The WR22 conditions (``arData``) of a replayed state; none when the edits added none."""
    items = _licence(state).get("arData") or []
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise ReplayError("arData is not a list of objects")
    return items


def _licence(state: Mapping[str, Any]) -> Mapping[str, Any]:
    licence = state.get("licence")
    if not isinstance(licence, Mapping):
        raise ReplayError("the licence copy is not an object")
    return licence


def _with_items(state: Mapping[str, Any], items: list[Mapping[str, Any]]) -> dict[str, Any]:
    return {**state, "licence": {**_licence(state), "arData": items}}


def _index(state: Mapping[str, Any], item_id: Any, verb: str) -> int:
    for index, item in enumerate(ar_items(state)):
        if item.get("id") == item_id:
            return index
    raise ReplayError(f"cannot {verb} data with ID {item_id}, not found")


def _add(state: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    items = ar_items(state)
    item_id = payload.get("id")
    if any(item.get("id") == item_id for item in items):
        raise ReplayError(f"cannot add data with ID {item_id}, already exists")
    item: dict[str, Any] = {
        "id": item_id,
        "schema": payload.get("schema"),
        "issueNumber": payload.get("issueNumber"),
        "incrementNumber": payload.get("incrementNumber"),
        "content": {},
    }
    return _with_items(state, [*items, item])


def _edit(state: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    index = _index(state, payload.get("id"), "edit")
    data = payload.get("data")
    if not isinstance(data, Mapping):
        raise ReplayError(f"edit of data with ID {payload.get('id')} has no data object")
    items = list(ar_items(state))
    content = items[index].get("content")
    items[index] = {**items[index], "content": {**(content if isinstance(content, Mapping) else {}), **data}}
    return _with_items(state, items)


def _delete(state: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    index = _index(state, payload.get("id"), "delete")
    items = list(ar_items(state))
    del items[index]
    return _with_items(state, items)


_HANDLERS: dict[Any, Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]] = {
    ADD_DATA: _add,
    EDIT_DATA: _edit,
    DELETE_DATA: _delete,
}
