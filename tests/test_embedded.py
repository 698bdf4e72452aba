"""The embedded default gives nald-import a real extract to import, and the CSV syncs sample files, in a
local folder, once."""

import json
import os
import subprocess
import sys

import pyzipper

from tests.support.processes import ROOT

SCRIPT = """
import json, sys
from wrls_actors import embedded
from wrls_actors.config import Config
first = embedded.prepare(sys.argv[1])
config = Config.from_env()
print(json.dumps({"dir": str(config.nald_local_dir), "key": config.nald_key, "pw": config.nald_zip_password,
                  "service_dir": str(config.service_local_dir),
                  "csv_keys": [config.charge_categories_key, config.gauging_stations_key], "start": first}))
"""


def prepare(folder, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WRLS_")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(folder)],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_an_extract_is_generated_once_in_the_embedded_folder(tmp_path):
    seen = prepare(tmp_path)
    # Imported and synced at once the first time.
    assert seen["start"] == ["charge-categories-sync", "gauging-stations-sync", "nald-import"]
    extract = tmp_path / "objects" / seen["key"]
    assert seen["dir"] == str(tmp_path / "objects") and extract.is_file()
    with pyzipper.AESZipFile(extract) as outer:
        outer.setpassword(seen["pw"].encode())
        assert outer.namelist() == ["NALD.zip"] and outer.read("NALD.zip")[:2] == b"PK"
    written = extract.stat().st_mtime_ns
    assert prepare(tmp_path)["start"] == []
    assert extract.stat().st_mtime_ns == written


def test_an_extract_generated_for_other_nald_tables_is_written_again(tmp_path):
    seen = prepare(tmp_path)
    extract = tmp_path / "objects" / seen["key"]
    written = extract.stat().st_mtime_ns
    # As an extract generated before the bill tables were added to the model finds itself.
    (tmp_path / "objects" / ".nald-tables").write_text("tables of an older model")
    assert prepare(tmp_path)["start"] == ["nald-import"]
    assert extract.stat().st_mtime_ns != written
    assert prepare(tmp_path)["start"] == []


def test_sample_csv_files_are_written_once_for_the_syncs(tmp_path):
    seen = prepare(tmp_path)
    assert seen["service_dir"] == str(tmp_path / "objects")
    files = [tmp_path / "objects" / key for key in seen["csv_keys"]]
    assert all(f.is_file() and f.read_bytes().count(b"\n") > 10 for f in files)
    # A file someone replaced is theirs: it is not written over, and its sync is not started again.
    files[0].write_bytes(b"reference\n")
    assert prepare(tmp_path)["start"] == []
    assert files[0].read_bytes() == b"reference\n"
    files[1].unlink()
    assert prepare(tmp_path)["start"] == ["gauging-stations-sync"]


def test_a_configured_object_store_is_left_alone(tmp_path):
    seen = prepare(tmp_path, WRLS_NALD_BUCKET="real-bucket", WRLS_SERVICE_BUCKET="service-bucket")
    assert seen["dir"] == "None" and seen["service_dir"] == "None"
    assert seen["start"] == [] and not (tmp_path / "objects").exists()
