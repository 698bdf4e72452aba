"""A ZipCrypto nald_enc.zip (what zip tools write by default) through the real worker: imported
like an AES one; a wrong password, a flipped byte or a cut fails at once naming the file, and
leaves `import` and the recorded ETag as they were."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

from tests.jobs.conftest import PASSWORD, snapshot
from tests.jobs.nald_import.test_nald_import import KEY, as_csv, extract_files, licence_refs, run_import
from tests.support.helpers import query, scalar, wait_worker_ready
from tests.support.zipcrypto import write_zipcrypto
from wrls_actors.tools.nald_synth import write_extract


def zipcrypto_extract(tmp_path: Path, files, password: str = PASSWORD) -> bytes:
    """nald_enc.zip's bytes: the extract's NALD.zip, deflated under ZipCrypto."""
    plain = tmp_path / "plain.zip"
    write_extract(plain, None, [(f"{table}.txt", as_csv(rows)) for table, rows in files.items()])
    with zipfile.ZipFile(plain) as outer:
        inner = outer.read("NALD.zip")
    path = tmp_path / "zipcrypto.zip"
    write_zipcrypto(path, "NALD.zip", inner, password.encode(), deflate=True)
    return path.read_bytes()


def put(s3, bucket, tmp_path: Path, content: bytes) -> str:
    path = tmp_path / "nald_enc.zip"
    path.write_bytes(content)
    s3.client().upload_file(str(path), bucket, KEY)
    return s3.client().head_object(Bucket=bucket, Key=KEY)["ETag"].strip('"')


def flipped(content: bytes) -> bytes:
    spoiled = bytearray(content)
    spoiled[len(spoiled) // 2] ^= 0x10
    return bytes(spoiled)


def member_cut(content: bytes, cut: int) -> bytes:
    """The member's last ``cut`` bytes gone, the directory kept (its offset moved up)."""
    data = bytearray(content)
    eocd = data.rindex(b"PK\x05\x06")
    directory = struct.unpack_from("<L", data, eocd + 16)[0]
    data = data[: directory - cut] + data[directory:]
    struct.pack_into("<L", data, eocd + 16 - cut, directory - cut)
    return bytes(data)


def test_a_zipcrypto_extract_is_imported_and_a_damaged_one_refused_naming_it(wrls, worker, vhost, s3, bucket, tmp_path):
    files = extract_files(15, seed=3)
    good = zipcrypto_extract(tmp_path, files)
    good_etag = put(s3, bucket, tmp_path, good)
    worker()
    wait_worker_ready(vhost, "import")
    run = run_import(wrls)
    assert run.status == "succeeded", run.error
    assert run.counts["rows_loaded"] == sum(len(rows) - 1 for rows in files.values())
    for table, rows in files.items():
        assert scalar(wrls, f'SELECT count(*) FROM import."{table}"') == len(rows) - 1, table
    assert run.counts["import-licence_queued"] == len(licence_refs(files))
    before = snapshot(wrls)

    bad = [
        (
            "wrong password",
            zipcrypto_extract(tmp_path, files, "not-the-password"),
            ("nald_enc.zip: wrong password for NALD.zip", "nald_enc.zip: wrong password or corrupt member NALD.zip"),
        ),
        ("a flipped byte", flipped(good), ("nald_enc.zip: wrong password or corrupt member NALD.zip",)),
        ("the member cut short", member_cut(good, 100), ("nald_enc.zip: wrong password or corrupt member NALD.zip",)),
        ("the archive truncated", good[: len(good) // 2], ("nald_enc.zip is not a readable zip archive",)),
    ]
    for name, content, messages in bad:
        put(s3, bucket, tmp_path, content)
        run = run_import(wrls, {"force": True})
        assert run.status == "failed", name
        assert any(m in run.error for m in messages), (name, run.error)
        attempts = query(wrls, "SELECT attempt FROM jobs.steps WHERE run_id = :r", r=str(run.run_id))
        assert [a.attempt for a in attempts] == [1], (name, attempts)  # bad input: no retry
        assert snapshot(wrls) == before, name
        assert scalar(wrls, "SELECT data->>'etag' FROM water.application_state WHERE key = 'nald-import'") == good_etag
