"""WR22 condition rules: condition URIs, alert types, thresholds, gauging stations and the notes templates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from wrls_actors.jobs.digitise import wr22
from wrls_actors.jobs.digitise.wr22 import BadData, Threshold

STATION = "921cad5b-4af6-4f4d-b8dc-0198e1ab15f8"


# --- condition URI ---------------------------------------------------------------------------------


def test_a_condition_uri_gives_region_id_and_the_external_id_prefix_of_nald_rows():
    uri = wr22.condition_uri({"nald_condition": {"id": "nald://conditions/6/12345", "value": "x"}})
    assert (uri.region, uri.id, uri.uri) == (6, 12345, "nald://conditions/6/12345")
    assert uri.external_id_prefix == "12345:6:"  # ID:REGION:AABP_ID


@pytest.mark.parametrize(
    "content",
    [
        {},
        {"nald_condition": None},
        {"nald_condition": {}},
        {"nald_condition": "x"},
        {"nald_condition": {"id": ""}},
        None,
        "text",
    ],
)
def test_no_condition_uri_means_no_link(content):
    assert wr22.condition_uri(content) is None


@pytest.mark.parametrize(
    "uri",
    [
        "nald://conditions/x/1",
        "nald://conditions/1",
        "nald://points/1/2",
        "https://conditions/1/2",
        "nald://conditions/1/2/3",
        "nald://conditions/1/2 ",
        12,
    ],
)
def test_a_malformed_condition_uri_is_bad_data(uri):
    with pytest.raises(BadData, match="malformed NALD condition URI"):
        wr22.condition_uri({"nald_condition": {"id": uri}})


# --- alert type ------------------------------------------------------------------------------------


@pytest.mark.parametrize("schema", ["/wr22/2.1", "/wr22/2.3", "/wr22/2.5", *(f"/wr22/2.9.{n}" for n in range(1, 9))])
def test_stop_schemas(schema):
    assert wr22.alert_type(schema) == "stop"


@pytest.mark.parametrize(
    "schema",
    ["/wr22/2.2", "/wr22/2.4", "/wr22/2.6", "/wr22/2.7", "/wr22/2.8", "/wr22/2.9", "/wr22/2.9.9", "/wr22/6.2", None],
)
def test_other_schemas_reduce(schema):
    assert wr22.alert_type(schema) == "reduce"


# --- threshold -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, expected",
    [
        ({"max_rate": 5, "max_rate_unit": "m³/s"}, Threshold("m3/s", Decimal(5), "flow")),
        ({"max_rate": 2.5, "unit": "Ml/d"}, Threshold("Ml/d", Decimal("2.5"), "flow")),
        ({"max_rate": "12.75", "unit": "l/s"}, Threshold("l/s", Decimal("12.75"), "flow")),
        ({"hol_rate_level": 10.2, "unit": "mAOD"}, Threshold("mAOD", Decimal("10.2"), "level")),
        ({"hol_rate_level": 3, "unit": "m"}, Threshold("m", Decimal(3), "level")),
        ({"max_rate": 1, "max_rate_unit": "m³/d"}, Threshold("m3/d", Decimal(1), "flow")),
        # unit before max_rate_unit, max_rate before hol_rate_level
        (
            {"unit": "mASD", "max_rate_unit": "l/s", "max_rate": 4, "hol_rate_level": 9},
            Threshold("mASD", Decimal(4), "level"),
        ),
        (
            {"unit": "", "max_rate_unit": "l/s", "max_rate": None, "hol_rate_level": 9},
            Threshold("l/s", Decimal(9), "flow"),
        ),
        ({"max_rate": 0, "unit": "Ml/d"}, Threshold("Ml/d", Decimal(0), "flow")),  # 0 is a value (legacy: missing)
    ],
)
def test_threshold(content, expected):
    assert wr22.threshold(content) == expected


@pytest.mark.parametrize(
    "content",
    [
        {},
        {"max_rate": 5},
        {"unit": "m"},
        {"max_rate": "", "unit": "m"},
        {"hof_hol_flow": 5, "hof_hol_flow_unit": "Ml/d"},
        None,
    ],
)
def test_no_threshold_without_a_unit_and_a_value(content):
    assert wr22.threshold(content) is None


@pytest.mark.parametrize(
    "content, message",
    [
        ({"max_rate": "five", "unit": "m"}, "threshold value 'five' is not a number"),
        ({"max_rate": "NaN", "unit": "m"}, "not a number"),
        ({"max_rate": True, "unit": "m"}, "not a number"),
        ({"max_rate": [1], "unit": "m"}, "not a number"),
        ({"max_rate": 1, "unit": 3}, "threshold unit 3 is not text"),
    ],
)
def test_a_threshold_that_is_not_a_number_and_a_unit_is_bad_data(content, message):
    with pytest.raises(BadData, match=message):
        wr22.threshold(content)


# --- gauging station -------------------------------------------------------------------------------


def test_gauging_station_id():
    assert wr22.gauging_station_id({"gauging_station": {"id": STATION.upper(), "value": "3 Pools"}}) == STATION
    assert wr22.gauging_station_id({"gauging_station": {"value": "3 Pools"}}) is None
    assert wr22.gauging_station_id({}) is None
    with pytest.raises(BadData, match="gauging station id 'abc' is not a UUID"):
        wr22.gauging_station_id({"gauging_station": {"id": "abc"}})
    with pytest.raises(BadData):
        wr22.gauging_station_id({"gauging_station": {"id": 7}})


# --- notes -----------------------------------------------------------------------------------------

WATER_BODY = {"id": "1", "name": "ADUR", "value": "ADUR (GB540704116000)"}


@pytest.mark.parametrize(
    "point, text",
    [
        ({"measurement_point_type": "Upstream"}, "immediately upstream of the authorised point of abstraction,"),
        (
            {"measurement_point_type": "Downstream", "measurement_point_diagram_type": "Map"},
            "immediately downstream of the authorised point of abstraction,",
        ),
        (
            {"measurement_point_type": "NGR", "measurement_point_ngr": "SP123456"},
            "at National Grid Reference SP123456,",
        ),
        ({"measurement_point_type": "Borehole"}, "in the borehole,"),
        (
            {
                "measurement_point_type": "NGR",
                "measurement_point_diagram_type": "Map",
                "measurement_point_reference": "A",
            },
            "marked as A on the map",
        ),
        (
            {
                "measurement_point_diagram_type": "Drawing",
                "measurement_point_drawing_name": "D1",
                "measurement_point_drawing_date": "2019-01-02",
            },
            "and on drawing D1 dated 2019-01-02",
        ),
        ({"measurement_point_diagram_type": "None"}, ""),
        (None, ""),
    ],
)
def test_measurement_point(point, text):
    assert wr22.measurement_point(point) == text


def test_2_1():
    assert wr22.notes(
        "/wr22/2.1",
        {
            "water_body_name": WATER_BODY,
            "measurement_point": {"measurement_point_type": "Upstream"},
            "hol_rate_level": 10.5,
            "unit": "mAOD",
            "point": "Abstraction point",
        },
    ) == (
        "No abstraction shall take place unless the level of water in the ADUR as measured immediately upstream "
        "of the authorised point of abstraction, is equal to or greater than 10.5mAOD and the abstraction shall "
        "not cause the level at the said Abstraction point to fall below that level."
    )


def test_2_2():
    assert wr22.notes(
        "/wr22/2.2",
        {
            "max_rate": 3.0,
            "max_rate_unit": "m³/s",
            "rate_type": "Daily",
            "water_body_name": WATER_BODY,
            "measurement_point": {"measurement_point_diagram_type": "Map", "measurement_point_reference": "Point A"},
            "hol_rate_level": 2,
            "hol_rate_level_unit": "mASD",
        },
    ) == (
        "Abstraction shall not exceed 3m³/s Daily when the level in the ADUR as measured marked as Point A on the "
        "map is equal to or greater than 2mASD."
    )


@pytest.mark.parametrize(
    "purpose, hof_type, diagram, text",
    [
        (
            "Abstraction",
            "Hands off flow",
            "None",
            "No abstraction shall take place unless the rate of flow in the ADUR as measured in the borehole, is equal "
            "to or greater than 4Ml/d and the abstraction shall not cause the flow immediately downstream of the said "
            "abstraction point to fall below that rate. This shall be known as the Hands off flow.",
        ),
        (
            "Power production",
            "Hands off level",
            "Map",
            "No power production shall take place unless the rate of flow in the ADUR as measured in the borehole, is "
            "equal to or greater than 4Ml/d and the power production shall not cause the water level at the said "
            "reference point to fall below that level. This shall be known as the Hands off level.",
        ),
        (
            "Power production with turbine",
            "Hands off flow",
            "Drawing",
            "No power production shall take place unless the rate of flow in the ADUR as measured in the borehole, is "
            "equal to or greater than 4Ml/d and the turbine shall not cause the flow immediately downstream of the said "
            "reference point to fall below that rate. This shall be known as the Hands off flow.",
        ),
    ],
)
def test_2_3(purpose, hof_type, diagram, text):
    assert (
        wr22.notes(
            "/wr22/2.3",
            {
                "purpose_type": purpose,
                "water_body_name": WATER_BODY,
                "hof_type": hof_type,
                "measurement_point": {"measurement_point_type": "Borehole", "measurement_point_diagram_type": diagram},
                "hof_hol_flow": 4,
                "hof_hol_flow_unit": "Ml/d",
            },
        )
        == text
    )


def test_2_4_prints_the_percentage_the_legacy_left_as_literal_text():
    assert wr22.notes(
        "/wr22/2.4", {"purpose_type": "Abstraction", "max_percentage": 80, "water_body_name": WATER_BODY}
    ) == (
        "The quantity of water abstracted shall not exceed 80 percent of the available flow in the ADUR in excess "
        "of the hands off flow."
    )
    assert wr22.notes(
        "/wr22/2.4", {"purpose_type": "Power production", "max_percentage": 90.5, "water_body_name": WATER_BODY}
    ).startswith("The quantity of water used for power production shall not exceed 90.5 percent")


def test_2_5():
    assert wr22.notes(
        "/wr22/2.5",
        {
            "water_body_name": WATER_BODY,
            "gauging_station": {"id": STATION, "value": "3 Pools Channel"},
            "max_rate": 12,
            "max_rate_unit": "Ml/d",
        },
    ) == (
        "No abstraction shall take place when the flow in the ADUR as gauged by the Agency at its flow gauging "
        "station at 3 Pools Channel is equal to or less than 12Ml/d as may be notified by the Agency. The Agency’s "
        "said gauging of the flow shall be conclusive."
    )


def test_2_6():
    assert wr22.notes(
        "/wr22/2.6",
        {
            "max_rate": 1.5,
            "max_rate_unit": "l/s",
            "water_body_name": WATER_BODY,
            "gauging_station": {"id": STATION, "value": "ABLAKE"},
            "hof_rate": 7,
            "hof_rate_unit": "m³/d",
            "hof_duration": "7 days",
        },
    ) == (
        "Abstraction shall not exceed 1.5l/s when the flow in the ADUR as gauged by the Agency at its flow gauging "
        "station at ABLAKE is equal to or less than 7m³/d for 7 days as may be notified by the Agency. The "
        "Agency’s said gauging of the flow shall be conclusive."
    )


def test_2_7():
    assert wr22.notes(
        "/wr22/2.7", {"max_percentage": 25, "water_body_name": WATER_BODY, "max_rate": 3, "unit": "Ml/d"}
    ) == ("The quantity of water abstracted shall not exceed 25% of the available flow in the ADUR in excess of 3Ml/d.")


def test_2_8():
    assert wr22.notes(
        "/wr22/2.8", {"max_rate": 0.25, "unit": "m³/s", "delivery_method": "Pipe", "ngr": "SP12345678"}
    ) == ("The rate of flow of 0.25m³/s shall be delivered via a Pipe located at SP12345678.")


def test_2_9_4_and_2_9_8():
    assert wr22.notes("/wr22/2.9.4", {"location": "Cut-Off Channel"}) == (
        "Denver – New Licences Only: In this provision the ‘Combined Flow’ shall mean the sum of the flows of "
        "water in the Ely Ouse River and the Cut-Off Channel as measured by the Agency at the Denver Complex at "
        "National Grid Reference TF 58807 00990. Main River (in South Level). No water shall be abstracted from "
        "the Cut-Off Channel when the Licence Holder has been notified by the Agency in writing that the combined "
        "flow is EQUAL to or LESS than 12 cubic metres per second."
    )
    assert wr22.notes("/wr22/2.9.8", {"abstraction_point": "Drain 4"}) == (
        "Lakenheath IDB: No water shall be taken at Drain 4 when the water level in Lakenheath Poor’s Fen is "
        "EQUAL TO or LESS THAN 99.8 metres South Level Datum, as indicated by the red triangle on the gauging "
        "board on the drain at National Grid Reference TL 7003 8386."
    )


@pytest.mark.parametrize("schema", ["/wr22/2.9.1", "/wr22/2.9.5", "/wr22/2.x", "/wr22/6.2", None, ""])
def test_other_schemas_have_no_text(schema):
    assert wr22.notes(schema, {"max_rate": 1}) == ""


def test_missing_values_are_empty_not_undefined_and_newlines_in_values_are_spaces():
    text = wr22.notes("/wr22/2.5", {"max_rate": 12})
    assert "undefined" not in text and "None" not in text
    assert text.startswith(
        "No abstraction shall take place when the flow in the as gauged by the Agency at its "
        "flow gauging station at is equal to or less than 12 as may"
    )
    assert wr22.notes("/wr22/2.9.8", {"abstraction_point": "Drain\n 4"}).startswith(
        "Lakenheath IDB: No water shall be taken at Drain 4 when"
    )
    assert wr22.notes("/wr22/2.1", None).startswith(
        "No abstraction shall take place unless the level of water in the as measured is equal"
    )
