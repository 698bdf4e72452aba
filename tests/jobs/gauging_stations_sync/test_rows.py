"""Parsing the gauging stations file and matching its rows to stations: pure
functions, no database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from wrls_actors.jobs.csv_sync import Row, parse_csv
from wrls_actors.jobs.gauging_stations_sync.sync_from_csv import SPEC, match
from wrls_actors.runtime import PermanentError

NAME = "gauging-stations/gauging-stations.csv"
HEADER = (
    "hydrology_station_id,station_reference,wiski_id,label,lat,long,easting,northing,grid_reference,"
    "catchment_name,river_name"
)
HYDROLOGY = "7d7b6b4e-5f4a-4c1e-9b0e-2f1c3d4e5f60"


def parse(*lines: str) -> list[dict]:
    return [row.values for row in parse_csv(NAME, ("\n".join([HEADER, *lines]) + "\n").encode(), SPEC)]


def problem(*lines: str) -> str:
    with pytest.raises(PermanentError) as e:
        parse(*lines)
    return str(e.value)


def test_values_are_typed_and_empty_ones_are_null():
    [full, sparse] = parse(
        f"{HYDROLOGY.upper()},2001,W2001,Kings Mill,51.50,-1.250,451500,185000,SU515850,Thames,Kennet", ",2002,,,,,,,,,"
    )
    assert full == {
        "hydrology_station_id": HYDROLOGY,
        "station_reference": "2001",
        "wiski_id": "W2001",
        "label": "Kings Mill",
        "lat": Decimal("51.5"),
        "long": Decimal("-1.25"),
        "easting": Decimal("451500"),
        "northing": Decimal("185000"),
        "grid_reference": "SU515850",
        "catchment_name": "Thames",
        "river_name": "Kennet",
    }
    assert sparse == {
        "hydrology_station_id": None,
        "station_reference": "2002",
        "wiski_id": None,
        "label": "Unnamed Gauging Station",
        "lat": None,
        "long": None,
        "easting": None,
        "northing": None,
        "grid_reference": None,
        "catchment_name": None,
        "river_name": None,
    }


def test_a_hydrology_id_that_is_not_a_uuid_is_no_id_as_in_the_legacy():
    [row] = parse("not-a-uuid,2003,,Weir,,,,,,,")
    assert row["hydrology_station_id"] is None


@pytest.mark.parametrize(
    "line, message",
    [
        ("x,2004,,Weir,north,,,,,,", "line 2, column lat: 'north' is not a number"),
        ("x,2004,,Weir,91,,,,,,", "line 2, column lat: 91 is outside -90 to 90"),
        ("x,2004,,Weir,,,NaN,,,,", "line 2, column easting: 'NaN' is not a number"),
        ("x,,,Weir,51,-1,,,,,", "line 2: no hydrology_station_id, station_reference or wiski_id to match it by"),
    ],
)
def test_a_bad_row_is_named_by_line_and_column(line, message):
    assert problem(line) == f"{NAME}: 1 problem, nothing applied: {message}"


def test_a_key_repeated_in_the_file_is_refused():
    error = problem(f"{HYDROLOGY},2001,W1,A,,,,,,,", ",2002,W2,B,,,,,,,", f"{HYDROLOGY},2003,W1,C,,,,,,,")
    assert error == (
        f"{NAME}: 2 problems, nothing applied: line 4, column hydrology_station_id: "
        f"'{HYDROLOGY}' is also on line 2; line 4, column wiski_id: 'W1' is also on line 2"
    )


def station(id_: str, hydrology=None, reference=None, wiski=None) -> dict:
    return {
        "gauging_station_id": id_,
        "hydrology_station_id": hydrology,
        "station_reference": reference,
        "wiski_id": wiski,
    }


def row(line: int, hydrology=None, reference=None, wiski=None) -> Row:
    return Row(line, {"hydrology_station_id": hydrology, "station_reference": reference, "wiski_id": wiski})


STATIONS = [
    station("by-hydrology", hydrology=HYDROLOGY, reference="R0"),
    station("by-reference", reference="R1", wiski="W1"),
    station("by-wiski", wiski="W2"),
    station("newer-same-reference", reference="R1"),
]


def matched(*rows: Row) -> list[str | None]:
    return [s["gauging_station_id"] if s else None for _, s in match(NAME, list(rows), STATIONS)]


def test_rows_match_by_hydrology_id_then_station_reference_then_wiski_id():
    # The hydrology id wins over a station reference and a WISKI id naming other stations.
    assert matched(row(2, hydrology=HYDROLOGY, reference="R1", wiski="W2")) == ["by-hydrology"]
    # An unknown hydrology id falls through to the station reference, then to the WISKI id.
    assert matched(row(2, hydrology="00000000-0000-0000-0000-000000000000", reference="R1", wiski="W2")) == [
        "by-reference"
    ]
    assert matched(row(2, reference="R9", wiski="W2")) == ["by-wiski"]
    # Nothing known: a new station. Two stations sharing a reference: the oldest.
    assert matched(row(2, reference="R9", wiski="W9"), row(3, reference="R1")) == [None, "by-reference"]


def test_two_rows_matching_one_station_are_refused():
    with pytest.raises(PermanentError) as e:
        matched(row(2, reference="R1"), row(3, reference="R5"), row(5, wiski="W1"))
    assert str(e.value) == (
        f"{NAME}: 1 problem, nothing applied: line 5: matches the same gauging station (by-reference) as line 2"
    )
