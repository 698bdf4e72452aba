"""Sample charge categories and gauging stations CSV files, shaped like the ones the
service bucket holds (the columns charge-categories-sync and gauging-stations-sync
read), for the embedded default. Deterministic: the same bytes every time, so a
second write leaves the ETag, and the synced rows, as they were."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

CHARGE_CATEGORY_COLUMNS = (
    "reference",
    "subsistence_charge",
    "description",
    "short_description",
    "min_volume",
    "max_volume",
    "is_tidal",
    "loss_factor",
    "model_tier",
    "is_restricted_source",
)
GAUGING_STATION_COLUMNS = (
    "hydrology_station_id",
    "station_reference",
    "wiski_id",
    "label",
    "lat",
    "long",
    "easting",
    "northing",
    "grid_reference",
    "catchment_name",
    "river_name",
)

# Volume bands in megalitres a year, as the SRoC categories step them.
VOLUME_BANDS = ((0, 5), (5, 50), (50, 250), (250, 1000), (1000, 5000), (5000, 25000))
LOSSES = ("low", "medium", "high")
RIVERS = (
    ("Thames", "Thames"),
    ("Severn", "Severn"),
    ("Trent", "Trent"),
    ("Ouse", "Great Ouse"),
    ("Tyne", "Tyne"),
    ("Exe", "Exe"),
    ("Wye", "Wye"),
    ("Eden", "Eden"),
)
NAMESPACE = uuid.UUID("5b0e8a8e-3c55-4a3e-9d1f-0c2b1d2e3f40")  # for stable hydrology ids


def charge_categories_csv() -> bytes:
    rows = []
    for group, (tidal, restricted) in enumerate(((False, False), (True, False), (False, True)), start=1):
        for band, (low, high) in enumerate(VOLUME_BANDS):
            for step, loss in enumerate(LOSSES):
                reference = f"4.{group}.{band * len(LOSSES) + step + 1}"
                water = "tidal" if tidal else "non-tidal"
                source = "restricted" if restricted else "unrestricted"
                rows.append(
                    (
                        reference,
                        1000 + 1500 * band + 500 * step + 250 * group,
                        f"{loss.capitalize()} loss, {water}, {source} water, {low} to {high} ML/yr",
                        f"{loss.capitalize()} loss, {water}, {low}-{high} ML/yr",
                        low,
                        high,
                        str(tidal).lower(),
                        loss,
                        "tier 1" if band < 3 else "tier 2",
                        str(restricted).lower(),
                    )
                )
    return _csv(CHARGE_CATEGORY_COLUMNS, rows)


def gauging_stations_csv() -> bytes:
    rows = []
    for n, (river, catchment) in enumerate(RIVERS * 3):
        easting, northing = 350000 + 7919 * n % 200000, 150000 + 6271 * n % 400000
        rows.append(
            (
                uuid.uuid5(NAMESPACE, str(n)),
                f"{2000 + n}TH",
                f"S{n:05d}",
                f"{river} at Station {n + 1}",
                f"{50.5 + (northing - 150000) / 111000:.5f}",
                f"{-3.5 + (easting - 350000) / 70000:.5f}",
                easting,
                northing,
                f"SU{easting % 100000 // 100:03d}{northing % 100000 // 100:03d}",
                catchment,
                river,
            )
        )
    return _csv(GAUGING_STATION_COLUMNS, rows)


def _csv(header: tuple[str, ...], rows: list[tuple]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def write_service_files(root: Path, charge_categories_key: str, gauging_stations_key: str) -> list[str]:
    """Write the files that are missing under ``root``; the keys written."""
    written = []
    for key, content in ((charge_categories_key, charge_categories_csv), (gauging_stations_key, gauging_stations_csv)):
        path = root / key
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content())
        written.append(key)
    return written
