"""What the two digitise jobs read from one WR22 condition (an ``arData`` item). Pure.

- :func:`condition_uri`: the NALD condition it links to, ``content.nald_condition.id``
  as ``nald://conditions/{region}/{id}`` (legacy parseNaldDataURI), and the
  prefix of that condition's ``external_id`` in ``water.licence_version_purpose_conditions``
  (NALD rows are ``ID:REGION:AABP_ID``);
- :func:`alert_type`, :func:`threshold`, :func:`gauging_station_id`: the
  licence gauging station it describes;
- :func:`notes`: the condition's text (legacy ``getDigitiseText`` and
  ``measurementPoint`` of the service's gauging-stations helpers).

Legacy bugs fixed:

- the legacy matched ``LIKE '{id}:{region}%'``, so condition 12 of region 1
  also matched ``12:10:…`` and ``12:1x…``; the prefix here ends with ``:``;
- the legacy split the URI on ``/`` with no check, so a missing URI crashed the
  process and a malformed one looked up garbage; here a missing URI means
  the item links to no condition, a malformed one is bad data;
- ``.replace('³', '3')`` on a missing unit crashed; a threshold value of 0
  was taken as missing (JavaScript falsiness);
- the notes: 2.4 printed the literal ``{ data.max_percentage }`` (a missing
  ``$``), 2.7 dropped the ``%`` its schema text has, 2.1 ran the measurement
  point into the next word (``abstraction,is``), 2.3 said ``level at of``,
  a missing value printed ``undefined`` (or crashed, for a missing water body),
  the NGR measurement point was used only when the optional place name was
  given, and the source code's indentation stayed in the text; here every run
  of white space is one space.
"""

from __future__ import annotations

import dataclasses
import math
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import JobDataError


class BadData(JobDataError):
    """This condition cannot be copied: its licence is reported and skipped."""


STOP_SCHEMAS = frozenset({"/wr22/2.1", "/wr22/2.3", "/wr22/2.5", *(f"/wr22/2.9.{n}" for n in range(1, 9))})
REDUCE_SCHEMAS = frozenset({"/wr22/2.2", "/wr22/2.4", "/wr22/2.6", "/wr22/2.7"})
#: The default of water.licence_gauging_stations.alert_type, which the legacy left other schemas to.
DEFAULT_ALERT_TYPE = "reduce"

FLOW_UNITS = frozenset({"Ml/d", "m3/s", "m3/d", "l/s"})

_URI = re.compile(r"nald://conditions/(\d+)/(\d+)")


@dataclasses.dataclass(frozen=True)
class ConditionUri:
    uri: str
    region: int
    id: int

    @property
    def external_id_prefix(self) -> str:
        """How the external ids of this NALD condition's rows start (``ID:REGION:AABP_ID``)."""
        return f"{self.id}:{self.region}:"


@dataclasses.dataclass(frozen=True)
class Threshold:
    unit: str
    value: Decimal
    restriction_type: str  # flow or level


def value_at(content: Any, *path: str) -> Any:
    """``content[path[0]][path[1]]…``, or None where a step is missing or not an object (lodash get)."""
    for key in path:
        if not isinstance(content, Mapping):
            return None
        content = content.get(key)
    return content


def condition_uri(content: Any) -> ConditionUri | None:
    """The NALD condition the item links to; None when it links to none."""
    uri = value_at(content, "nald_condition", "id")
    if uri is None or uri == "":
        return None
    match = _URI.fullmatch(uri) if isinstance(uri, str) else None
    if match is None:
        raise BadData(f"malformed NALD condition URI {uri!r}")
    return ConditionUri(uri, int(match.group(1)), int(match.group(2)))


def alert_type(schema: Any) -> str:
    if schema in STOP_SCHEMAS:
        return "stop"
    return "reduce" if schema in REDUCE_SCHEMAS else DEFAULT_ALERT_TYPE


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _first(content: Any, *keys: str) -> Any:
    return next((value for key in keys if _present(value := value_at(content, key))), None)


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadData(f"threshold value {value!r} is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise BadData(f"threshold value {value!r} is not a number") from None
    if not number.is_finite():
        raise BadData(f"threshold value {value!r} is not a number")
    return number


def threshold(content: Any) -> Threshold | None:
    """Unit (``unit`` or ``max_rate_unit``, ³ written 3), value (``max_rate`` or ``hol_rate_level``) and
    restriction type (flow for a flow unit, else level); None when the unit or the value is missing."""
    unit, value = _first(content, "unit", "max_rate_unit"), _first(content, "max_rate", "hol_rate_level")
    if unit is None or value is None:
        return None
    if not isinstance(unit, str):
        raise BadData(f"threshold unit {unit!r} is not text")
    unit = unit.replace("³", "3")
    return Threshold(unit, _number(value), "flow" if unit in FLOW_UNITS else "level")


def gauging_station_id(content: Any) -> str | None:
    """``content.gauging_station.id`` (a ``water.gauging_stations`` id), or None when there is none."""
    station = value_at(content, "gauging_station", "id")
    if not _present(station):
        return None
    try:
        return str(uuid.UUID(station))
    except (TypeError, ValueError, AttributeError):
        raise BadData(f"gauging station id {station!r} is not a UUID") from None


# --- notes -----------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A value as a JavaScript template literal shows it, except that a missing one is empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return str(int(value))
        return repr(value)
    return str(value)


def measurement_point(point: Any) -> str:
    """Where a level or flow is measured (legacy measurementPoint); empty when nothing says."""
    kind, diagram = value_at(point, "measurement_point_type"), value_at(point, "measurement_point_diagram_type")
    if kind == "Upstream":
        return "immediately upstream of the authorised point of abstraction,"
    if kind == "Downstream":
        return "immediately downstream of the authorised point of abstraction,"
    if kind == "NGR" and _present(value_at(point, "measurement_point_ngr")):
        return f"at National Grid Reference {_text(value_at(point, 'measurement_point_ngr'))},"
    if kind == "Borehole":
        return "in the borehole,"
    if diagram == "Map":
        return f"marked as {_text(value_at(point, 'measurement_point_reference'))} on the map"
    if diagram == "Drawing":
        return (
            f"and on drawing {_text(value_at(point, 'measurement_point_drawing_name'))} "
            f"dated {_text(value_at(point, 'measurement_point_drawing_date'))}"
        )
    return ""


def _purpose(purpose_type: Any, abstraction: str, power: str, other: str | None = None) -> str:
    if purpose_type == "Abstraction":
        return abstraction
    return power if other is None or purpose_type == "Power production" else other


def _notes_2_3(c: Mapping[str, Any], v) -> str:
    said = (
        "abstraction point"
        if value_at(c, "measurement_point", "measurement_point_diagram_type") == "None"
        else "reference point"
    )
    cause = (
        f"flow immediately downstream of the said {said} to fall below that rate."
        if c.get("hof_type") == "Hands off flow"
        else f"water level at the said {said} to fall below that level."
    )
    return (
        f"No {_purpose(c.get('purpose_type'), 'abstraction', 'power production')} shall take place unless "
        f"the rate of flow in the {v('water_body_name', 'name')} as measured "
        f"{measurement_point(c.get('measurement_point'))} is equal to or greater than "
        f"{v('hof_hol_flow')}{v('hof_hol_flow_unit')} and the "
        f"{_purpose(c.get('purpose_type'), 'abstraction', 'power production', 'turbine')} shall not cause the "
        f"{cause} This shall be known as the {v('hof_type')}."
    )


_TEMPLATES = {
    "/wr22/2.1": lambda c, v: (
        f"No abstraction shall take place unless the level of water in the {v('water_body_name', 'name')} "
        f"as measured {measurement_point(c.get('measurement_point'))} is equal to or greater than "
        f"{v('hol_rate_level')}{v('unit')} and the abstraction shall not cause the level at the said "
        f"{v('point')} to fall below that level."
    ),
    "/wr22/2.2": lambda c, v: (
        f"Abstraction shall not exceed {v('max_rate')}{v('max_rate_unit')} {v('rate_type')} "
        f"when the level in the {v('water_body_name', 'name')} as measured "
        f"{measurement_point(c.get('measurement_point'))} is equal to or greater than "
        f"{v('hol_rate_level')}{v('hol_rate_level_unit')}."
    ),
    "/wr22/2.3": _notes_2_3,
    "/wr22/2.4": lambda c, v: (
        f"The quantity of water {_purpose(c.get('purpose_type'), 'abstracted', 'used for power production')} "
        f"shall not exceed {v('max_percentage')} percent of the available flow in the "
        f"{v('water_body_name', 'name')} in excess of the hands off flow."
    ),
    "/wr22/2.5": lambda c, v: (
        f"No abstraction shall take place when the flow in the {v('water_body_name', 'name')} "
        f"as gauged by the Agency at its flow gauging station at {v('gauging_station', 'value')} "
        f"is equal to or less than {v('max_rate')}{v('max_rate_unit')} "
        "as may be notified by the Agency. The Agency’s said gauging of the flow shall be conclusive."
    ),
    "/wr22/2.6": lambda c, v: (
        f"Abstraction shall not exceed {v('max_rate')}{v('max_rate_unit')} "
        f"when the flow in the {v('water_body_name', 'name')} as gauged by the Agency at its flow gauging station "
        f"at {v('gauging_station', 'value')} is equal to or less than {v('hof_rate')}{v('hof_rate_unit')} "
        f"for {v('hof_duration')} "
        "as may be notified by the Agency. The Agency’s said gauging of the flow shall be conclusive."
    ),
    "/wr22/2.7": lambda c, v: (
        f"The quantity of water abstracted shall not exceed {v('max_percentage')}% of "
        f"the available flow in the {v('water_body_name', 'name')} in excess of {v('max_rate')}{v('unit')}."
    ),
    "/wr22/2.8": lambda c, v: (
        f"The rate of flow of {v('max_rate')}{v('unit')} "
        f"shall be delivered via a {v('delivery_method')} located at {v('ngr')}."
    ),
    "/wr22/2.9.4": lambda c, v: (
        "Denver – New Licences Only: In this provision the ‘Combined Flow’ shall mean the sum of the flows of "
        "water in the Ely Ouse River and the Cut-Off Channel as measured by the Agency at the Denver Complex at "
        "National Grid Reference TF 58807 00990. Main River (in South Level). No water shall be abstracted from "
        f"the {v('location')} when the Licence Holder has been notified by the Agency in writing that the "
        "combined flow is EQUAL to or LESS than 12 cubic metres per second."
    ),
    "/wr22/2.9.8": lambda c, v: (
        f"Lakenheath IDB: No water shall be taken at {v('abstraction_point')} when the water level in "
        "Lakenheath Poor’s Fen is EQUAL TO or LESS THAN 99.8 metres South Level Datum, as indicated by the red "
        "triangle on the gauging board on the drain at National Grid Reference TL 7003 8386."
    ),
}


def notes(schema: Any, content: Any) -> str:
    """The condition's text for ``water.licence_version_purpose_conditions.notes``; '' for a schema with none."""
    template = _TEMPLATES.get(schema)
    if template is None:
        return ""
    content = content if isinstance(content, Mapping) else {}
    text = template(content, lambda *path: _text(value_at(content, *path)))
    return " ".join(text.split())
