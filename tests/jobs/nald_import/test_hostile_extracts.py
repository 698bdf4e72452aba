"""Cut-short and hostile extracts through the real worker (moto S3, RabbitMQ, PostgreSQL): each
fails on its first attempt, names the file (and line), and leaves `import` and the recorded ETag
as they were."""

from __future__ import annotations

import random

from tests.jobs.conftest import snapshot
from tests.jobs.nald_import.test_nald_import import as_csv, extract_files, run_import, upload
from tests.support.helpers import query, scalar, wait_worker_ready

LICENCES = "NALD_ABS_LICENCES"


def replacing(files, table: str, content: bytes) -> dict:
    """Upload arguments: the files, with one table's member replaced by raw bytes."""
    return dict(files={k: v for k, v in files.items() if k != table}, extra={f"{table}.txt": content})


def letters(size: int) -> bytes:
    """Text without a newline that deflates about as little as real CSV (so no ratio limit stops it)."""
    return random.Random(size).randbytes(size).translate(bytes(97 + n % 26 for n in range(256)))


def hostile(files):
    kept = as_csv(files[LICENCES][:151])  # the header and 150 rows
    yield (
        "cut inside the last value",
        replacing(files, LICENCES, kept[:-3]),
        "NALD_ABS_LICENCES.txt line 151: the file ends without a newline (cut short?)",
    )
    yield (
        "cut at a row's end, the newline lost",
        replacing(files, LICENCES, kept[:-1]),
        "NALD_ABS_LICENCES.txt line 151: the file ends without a newline (cut short?)",
    )
    yield (
        "a zip bomb of zeros",
        dict(files=files, extra={"NALD_BOMB.txt": bytes(256 << 20)}),
        "NALD.zip: member NALD_BOMB.txt is 268,435,456 bytes unpacked from ",
    )
    yield (
        "a first line that never ends",
        replacing(files, LICENCES, letters(4 << 20)),
        "NALD_ABS_LICENCES.txt line 1: no end of line in the first 65,536 bytes",
    )


def test_cut_short_and_hostile_extracts_fail_at_once_and_leave_import_as_it_was(
    wrls, worker, vhost, s3, bucket, tmp_path
):
    files = extract_files(160, seed=3)
    assert len(files[LICENCES]) > 151
    good_etag = upload(s3, bucket, tmp_path, files)
    worker()  # the default limits
    wait_worker_ready(vhost, "import")
    assert run_import(wrls, timeout_s=300).status == "succeeded"
    before = snapshot(wrls)

    for name, upload_args, message in hostile(files):
        upload(s3, bucket, tmp_path, **upload_args)
        run = run_import(wrls, {"force": True})
        assert run.status == "failed", name
        assert message in run.error, (name, run.error)
        attempts = query(wrls, "SELECT attempt FROM jobs.steps WHERE run_id = :r", r=str(run.run_id))
        assert [a.attempt for a in attempts] == [1], (name, attempts)  # bad input: no retry
        assert snapshot(wrls) == before, name
        assert scalar(wrls, "SELECT data->>'etag' FROM water.application_state WHERE key = 'nald-import'") == good_etag
