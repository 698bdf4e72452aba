"""The guards of nald-import through the real worker (moto S3, RabbitMQ, PostgreSQL): the issue's
short extract (NALD_ABS_LICENCES with its header and 150 rows of a bigger extract, well formed) is
refused at the swap, and past that guard by the deletion guard, and costs no data; force lets it
through. A failure for good leaves no import_temp, and the run sweeps a killed run's folder."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from tests.jobs.conftest import snapshot
from tests.jobs.nald_import.test_nald_import import extract_files, refs_with_versions, run_import, upload
from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_worker_ready
from wrls_actors.config import config
from wrls_actors.jobs.nald_import.s3_download import MAX_RETRIES, s3_download
from wrls_actors.runtime import StepContext

LICENCES = "NALD_ABS_LICENCES"


def attempts(wrls, run) -> list[tuple[str, int]]:
    return [
        (r.actor, r.attempt)
        for r in query(
            wrls, "SELECT actor, attempt FROM jobs.steps WHERE run_id = :r ORDER BY started_at", r=str(run.run_id)
        )
    ]


def test_a_short_licence_table_is_refused_unless_forced_and_costs_no_data(
    wrls, wrls_env, worker, vhost, s3, bucket, tmp_path
):
    files = extract_files(200, seed=5)
    short = {**files, LICENCES: files[LICENCES][:151]}  # the header and 150 rows, each ending in a newline
    good_etag = upload(s3, bucket, tmp_path, files)
    process = worker()
    wait_worker_ready(vhost, "import")
    assert run_import(wrls, timeout_s=300).status == "succeeded"
    documents = scalar(wrls, "SELECT count(*) FROM crm.document_header WHERE date_deleted IS NULL")
    gone = len(refs_with_versions(files) - refs_with_versions(short))
    assert documents == len(refs_with_versions(files)) and gone * 100 > documents * 5
    before = snapshot(wrls)
    work = Path(wrls_env["WRLS_WORK_DIR"])
    killed = work / "nald-left-by-a-killed-run"  # nobody holds its lock
    killed.mkdir()
    (killed / "NALD.zip").write_bytes(b"x" * 1000)

    upload(s3, bucket, tmp_path, short)
    refused = run_import(wrls)
    assert refused.status == "failed"
    assert (
        "NALD_ABS_LICENCES.txt: 150 rows against 200 in the import in place, 25.0% fewer, over "
        "WRLS_NALD_MAX_SHRINK_PERCENT=10"
    ) in refused.error, refused.error
    assert attempts(wrls, refused) == [("nald-import.s3-download", 1)]  # bad input: no retry
    assert snapshot(wrls) == before
    assert scalar(wrls, "SELECT data->>'etag' FROM water.application_state WHERE key = 'nald-import'") == good_etag
    assert scalar(wrls, "SELECT to_regnamespace('import_temp')") is None  # failed for good: dropped
    assert list(work.iterdir()) == []  # the killed run's folder swept, its own removed

    # Past the shrink guard, the deletion guard refuses to mark the documents deleted.
    process.stop()
    worker({"WRLS_NALD_MAX_SHRINK_PERCENT": "100"})
    wait_worker_ready(vhost, "import")
    crm = snapshot(wrls, ("crm",))
    refused = run_import(wrls)
    assert refused.status == "failed"
    assert f"refusing to mark deleted {gone:,} of {documents:,} live rows of crm.document_header" in refused.error, (
        refused.error
    )
    assert "WRLS_MAX_DELETE_PERCENT=5" in refused.error
    # The failed step's row is the worker's ledger writer's, which may flush after the run has ended.
    svc.wait_for(
        lambda: attempts(wrls, refused)[-1] == ("nald-import.delete-removed-documents", 1),
        30,
        what="the refused delete-removed-documents attempt recorded",
    )
    assert snapshot(wrls, ("crm",)) == crm

    forced = run_import(wrls, {"force": True}, timeout_s=300)
    assert forced.status == "succeeded", forced.error
    assert forced.counts["documents_deleted"] == gone
    assert scalar(wrls, "SELECT count(*) FROM crm.document_header WHERE date_deleted IS NOT NULL") == gone


def step_context(wrls, attempt: int) -> StepContext:
    return StepContext(
        run_id=uuid.uuid4(),
        job="nald-import",
        step="s3-download",
        params={},
        message_id=str(uuid.uuid4()),
        attempt=attempt,
        logger=logging.LoggerAdapter(logging.getLogger("test.nald-import"), {}),
        engine=wrls.engine,
    )


@pytest.fixture
def unwritable_work_dir(monkeypatch, tmp_path):
    """A local extract and a work folder that cannot be made (a file is in its place): a transient failure."""
    extract = tmp_path / "local" / "wal_nald_data_release" / "nald_enc.zip"
    extract.parent.mkdir(parents=True)
    extract.write_bytes(b"an extract")
    (tmp_path / "work-file").write_text("a file where the work folder should be")
    for name, value in (
        ("NALD_LOCAL_DIR", tmp_path / "local"),
        ("WORK_DIR", tmp_path / "work-file"),
        ("NALD_ZIP_PASSWORD", "pw"),
    ):
        monkeypatch.setenv(f"WRLS_{name}", str(value))
    config.cache_clear()
    yield
    config.cache_clear()


def test_a_partial_import_temp_is_dropped_when_the_last_attempt_fails_and_kept_for_a_retry(wrls, unwritable_work_dir):
    with wrls.engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA IF EXISTS import_temp CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA import_temp")
        connection.exec_driver_sql('CREATE TABLE import_temp."NALD_ABS_LICENCES" ("LIC_NO" varchar)')
    temp = "SELECT to_regnamespace('import_temp') IS NOT NULL"
    for attempt in range(1, MAX_RETRIES + 1):  # a retry follows: it reloads import_temp anyway
        with pytest.raises(FileExistsError):
            s3_download(step_context(wrls, attempt))
        assert scalar(wrls, temp) is True
    with pytest.raises(FileExistsError):
        s3_download(step_context(wrls, MAX_RETRIES + 1))
    assert scalar(wrls, temp) is False
