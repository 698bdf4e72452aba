"""The CSV syncs reading their files from a local folder (WRLS_SERVICE_LOCAL_DIR), as under the embedded
default: the sample files it writes are synced whole, and a second run finds them unchanged."""

from __future__ import annotations

from tests.support.helpers import scalar, wait_run_ended, wait_worker_ready
from wrls_actors.config import Config
from wrls_actors.jobs.charge_categories_sync.sync_from_csv import SPEC as CHARGE_CATEGORIES
from wrls_actors.jobs.csv_sync import parse_csv
from wrls_actors.jobs.gauging_stations_sync.sync_from_csv import SPEC as GAUGING_STATIONS
from wrls_actors.tools.service_files import charge_categories_csv, gauging_stations_csv, write_service_files

JOBS = {"charge-categories-sync": "water.billing_charge_categories", "gauging-stations-sync": "water.gauging_stations"}


def test_the_sample_files_in_a_folder_are_synced_then_found_unchanged(wrls, worker, vhost, tmp_path):
    folder = tmp_path / "objects"
    defaults = Config.from_env({})
    assert write_service_files(folder, defaults.charge_categories_key, defaults.gauging_stations_key) == [
        defaults.charge_categories_key,
        defaults.gauging_stations_key,
    ]
    expected = {
        "charge-categories-sync": len(parse_csv("c", charge_categories_csv(), CHARGE_CATEGORIES)),
        "gauging-stations-sync": len(parse_csv("g", gauging_stations_csv(), GAUGING_STATIONS)),
    }
    worker({"WRLS_SERVICE_LOCAL_DIR": str(folder)})
    wait_worker_ready(vhost, "default")

    for job, table in JOBS.items():
        run = wait_run_ended(wrls, wrls.trigger(job), 60)
        assert run.status == "succeeded", run.error
        assert run.counts["inserted"] == expected[job] == scalar(wrls, f"SELECT count(*) FROM {table}")
        again = wait_run_ended(wrls, wrls.trigger(job), 60)
        assert again.status == "succeeded" and again.note.startswith("no change"), again.note
