"""gauging-stations-sync end to end: a CSV in a real S3 API server (moto), a
real worker, RabbitMQ and PostgreSQL, over stations already in the table."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import insert

from tests.jobs.conftest import snapshot
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from wrls_actors.model.water import gauging_stations

KEY = "gauging-stations/gauging-stations.csv"
HEADER = (
    "hydrology_station_id,station_reference,wiski_id,label,lat,long,easting,northing,grid_reference,"
    "catchment_name,river_name"
)
H_A, H_B, H_NEW = (
    "aaaaaaaa-0000-4000-8000-00000000000a",
    "bbbbbbbb-0000-4000-8000-00000000000b",
    "eeeeeeee-0000-4000-8000-00000000000e",
)


def upload(s3, bucket, *lines: str) -> str:
    s3.client().put_object(Bucket=bucket, Key=KEY, Body=("\n".join([HEADER, *lines]) + "\n").encode())
    return s3.client().head_object(Bucket=bucket, Key=KEY)["ETag"].strip('"')


def sync(wrls):
    return wait_run_ended(wrls, wrls.trigger("gauging-stations-sync"), 60)


def stored_etag(wrls):
    return scalar(wrls, "SELECT data->>'etag' FROM water.application_state WHERE key = 'gauging-stations-import'")


def stations(wrls) -> dict:
    return {r.label: r for r in query(wrls, "SELECT * FROM water.gauging_stations")}


def existing(wrls) -> None:
    with wrls.engine.begin() as connection:
        for station in (
            {"label": "A", "hydrology_station_id": H_A, "station_reference": "1001", "wiski_id": "WA"},
            {"label": "B", "station_reference": "1002", "wiski_id": "WB"},
            {"label": "C", "wiski_id": "WC"},
            {"label": "D", "station_reference": "1004", "wiski_id": "WD", "river_name": "Not in the file"},
        ):
            connection.execute(insert(gauging_stations).values(station))


FILE = [
    # A by its hydrology id, although its station reference is D's.
    f"{H_A},1004,WA,Kings Mill,51.5,-1.25,451500,185000,SU515850,Thames,Kennet",
    # B by its station reference: the file's hydrology id is new to the table.
    f"{H_B},1002,WB,Bow Bridge,,,,,,,",
    # C by its WISKI id alone.
    ",3003,WC,,52.1,-0.5,,,,,",
    # Nothing known: a new station.
    f"{H_NEW},4004,WN,New Weir,,,,,,Ouse,Ouse",
]


def test_rows_update_the_stations_they_match_in_order_then_an_equal_file_changes_nothing(
    wrls, worker, vhost, s3, bucket
):
    existing(wrls)
    ids = {label: r.gauging_station_id for label, r in stations(wrls).items()}
    worker({"WRLS_SERVICE_BUCKET": bucket})
    wait_worker_ready(vhost, "default")

    etag = upload(s3, bucket, *FILE)
    run = sync(wrls)
    assert run.status == "succeeded", run.error
    assert (run.counts["inserted"], run.counts["updated"], run.counts["unchanged"]) == (1, 3, 0)
    now = stations(wrls)
    assert set(now) == {"Kings Mill", "Bow Bridge", "Unnamed Gauging Station", "New Weir", "D"}
    assert now["Kings Mill"].gauging_station_id == ids["A"]
    assert (now["Kings Mill"].station_reference, now["Kings Mill"].lat) == ("1004", Decimal("51.5"))
    assert (now["Bow Bridge"].gauging_station_id, str(now["Bow Bridge"].hydrology_station_id)) == (ids["B"], H_B)
    unnamed = now["Unnamed Gauging Station"]
    assert (unnamed.gauging_station_id, unnamed.station_reference, unnamed.wiski_id) == (ids["C"], "3003", "WC")
    assert now["New Weir"].gauging_station_id not in ids.values()
    assert (now["D"].gauging_station_id, now["D"].river_name) == (ids["D"], "Not in the file")  # never deleted
    assert stored_etag(wrls) == etag

    # The same stations written differently: numbers with trailing zeros, an upper-case hydrology id.
    before = snapshot(wrls, ("water",))
    respelled = [FILE[0].replace(H_A, H_A.upper()).replace("51.5,-1.25,451500", "51.50,-1.250,451500.0"), *FILE[1:]]
    etag = upload(s3, bucket, *respelled)
    run = sync(wrls)
    assert run.status == "succeeded", run.error
    assert (run.counts["inserted"], run.counts["updated"], run.counts["unchanged"]) == (0, 0, 4)
    after = snapshot(wrls, ("water",))
    assert after["water.gauging_stations"] == before["water.gauging_stations"]
    assert stored_etag(wrls) == etag

    # Unchanged file: the ETag gate.
    same = sync(wrls)
    assert same.status == "succeeded" and same.note == f"no change: {KEY} ETag {etag} already imported"

    # Two rows matching one station (B, by its hydrology id and by its old station reference):
    # nothing applied, the ETag kept.
    upload(
        s3,
        bucket,
        FILE[0].replace("Kings Mill", "Renamed"),
        FILE[1].replace(",1002,WB,", ",2002,WB2,"),
        *FILE[2:],
        ",1002,WZ,X,,,,,,,",
    )
    bad = sync(wrls)
    assert bad.status == "failed"
    assert (
        f"{KEY}: 1 problem, nothing applied: line 6: matches the same gauging station ({ids['B']}) as line 3"
        in bad.error
    ), bad.error
    assert snapshot(wrls, ("water",)) == after
    assert stored_etag(wrls) == etag
