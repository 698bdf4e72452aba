"""nald-import end to end: a generated extract in a real S3 API server, a real
worker, RabbitMQ and PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text

from tests.jobs.conftest import PASSWORD, snapshot
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.services import wait_for
from wrls_actors.jobs.nald_import.import_licence import CHUNK
from wrls_actors.model.nald import NALD_TABLES
from wrls_actors.runtime import LedgerView
from wrls_actors.tools.nald_synth import synthesize, write_extract

KEY = "wal_nald_data_release/nald_enc.zip"


def extract_files(licences: int, seed: int = 7) -> dict[str, list[list[str]]]:
    """The generator's tables as rows, header first, to upload as they are or spoil."""
    columns = {t.name: list(t.columns) for t in NALD_TABLES}
    return {table: [columns[table], *rows] for table, rows in synthesize(licences, seed)}


def as_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def upload(
    s3,
    bucket,
    tmp_path,
    files: dict[str, list[list[str]]],
    *,
    password: str = PASSWORD,
    extra: dict[str, bytes] | None = None,
) -> str:
    path = tmp_path / "nald_enc.zip"
    members = [(f"{table}.txt", as_csv(rows)) for table, rows in files.items()] + list((extra or {}).items())
    write_extract(path, password, members)
    s3.client().upload_file(str(path), bucket, KEY)
    return s3.client().head_object(Bucket=bucket, Key=KEY)["ETag"].strip('"')


def licence_refs(files) -> set[str]:
    header, *rows = files["NALD_ABS_LICENCES"]
    return {row[header.index("LIC_NO")] for row in rows}


def refs_with_versions(files) -> set[str]:
    licences = files["NALD_ABS_LICENCES"]
    versions = files["NALD_ABS_LIC_VERSIONS"]
    keyed = {(r[versions[0].index("FGAC_REGION_CODE")], r[versions[0].index("AABL_ID")]) for r in versions[1:]}
    h = licences[0]
    return {r[h.index("LIC_NO")] for r in licences[1:] if (r[h.index("FGAC_REGION_CODE")], r[h.index("ID")]) in keyed}


def run_import(wrls, params=None, timeout_s=180):
    return wait_run_ended(wrls, wrls.trigger("nald-import", params or {}), timeout_s)


def test_an_extract_is_imported_then_gated_by_its_etag_and_a_forced_reimport_changes_nothing(
    wrls, worker, vhost, s3, bucket, tmp_path
):
    files = extract_files(60)
    etag = upload(s3, bucket, tmp_path, files)
    worker()
    wait_worker_ready(vhost, "import")

    run = run_import(wrls)
    assert run.status == "succeeded", run.error
    expected = refs_with_versions(files)
    assert run.counts["licences_imported"] == len(expected)
    assert run.counts["licences_skipped"] == len(licence_refs(files)) - len(expected)
    assert run.counts["import-licence_queued"] == len(licence_refs(files))
    assert run.counts["rows_loaded"] == sum(len(rows) - 1 for rows in files.values())
    # Every table of the extract is in `import`, with the file's rows.
    for table, rows in files.items():
        assert scalar(wrls, f'SELECT count(*) FROM import."{table}"') == len(rows) - 1, table
    assert {r.licence_ref for r in query(wrls, "SELECT licence_ref FROM permit.licence")} == expected
    assert {r.system_external_id for r in query(wrls, "SELECT system_external_id FROM crm.document_header")} == expected
    returns = scalar(wrls, "SELECT count(*) FROM returns.returns")
    assert returns > 0 and run.counts["returns_written"] == returns
    assert scalar(wrls, "SELECT data->>'etag' FROM water.application_state WHERE key = 'nald-import'") == etag

    before = snapshot(wrls)
    unchanged = run_import(wrls)
    assert unchanged.status == "succeeded" and unchanged.note.startswith("no change")
    assert "licences_imported" not in unchanged.counts

    sequence = "SELECT last_value FROM permit.licence_licence_id_seq"
    numbers = scalar(wrls, sequence)
    forced = run_import(wrls, {"force": True})
    assert forced.status == "succeeded", forced.error
    assert forced.counts["licences_imported"] == len(expected)
    assert forced.counts.get("returns_written", 0) == 0  # nothing differed, so nothing was rewritten
    assert snapshot(wrls) == before
    assert scalar(wrls, sequence) == numbers  # an unchanged licence takes no value of the sequence


def spoil(files, table: str, line: int, change) -> dict:
    """A copy of the files with one row of one table changed (line counts the header as 1)."""
    spoiled = {name: list(rows) for name, rows in files.items()}
    spoiled[table][line - 1] = change(list(spoiled[table][line - 1]))
    return spoiled


BAD_EXTRACTS = [
    ("wrong password", lambda files: dict(files=files, password="not-the-password"), "nald_enc.zip: wrong password"),
    (
        "wrong column count",
        lambda files: dict(files=spoil(files, "NALD_ABS_LICENCES", 3, lambda r: r + ["extra"])),
        "NALD_ABS_LICENCES.txt line 3: extra data after last expected column",
    ),
    (
        "missing table",
        lambda files: dict(files={k: v for k, v in files.items() if k != "NALD_RET_FORMATS"}),
        "NALD.zip lacks required tables: NALD_RET_FORMATS.txt",
    ),
    (
        "member escaping the folder",
        lambda files: dict(files=files, extra={"../../outside.txt": b"x\n"}),
        "NALD.zip: member '../../outside.txt' would be written outside the extraction folder",
    ),
    (
        "member over the size limit",
        lambda files: dict(files=files, extra={"NALD_BIG.txt": b"A\n" + b"x" * 600_000}),
        "NALD.zip: member NALD_BIG.txt is 600,002 bytes unpacked, over the limit of 500,000",
    ),
    (
        "header lacking a column",
        lambda files: dict(files=spoil(files, "NALD_RET_VERSIONS", 1, lambda r: [c for c in r if c != "EFF_ST_DATE"])),
        "NALD_RET_VERSIONS.txt line 1: the header lacks columns EFF_ST_DATE",
    ),
]


def test_bad_extracts_fail_the_step_naming_the_problem_and_leave_import_as_it_was(
    wrls, worker, vhost, s3, bucket, tmp_path
):
    files = extract_files(15, seed=3)
    good_etag = upload(s3, bucket, tmp_path, files)
    process = worker({"WRLS_NALD_MAX_MEMBER_BYTES": "500000"})
    wait_worker_ready(vhost, "import")
    assert run_import(wrls).status == "succeeded"
    before = snapshot(wrls)

    for name, make, message in BAD_EXTRACTS:
        upload(s3, bucket, tmp_path, **make(files))
        run = run_import(wrls, {"force": True})
        assert run.status == "failed", name
        assert message in run.error, (name, run.error)
        assert snapshot(wrls) == before, name
        assert scalar(wrls, "SELECT data->>'etag' FROM water.application_state WHERE key = 'nald-import'") == good_etag

    # Damaged archives: bytes flipped inside the encrypted member, or not a zip at all.
    upload(s3, bucket, tmp_path, files)
    damaged = bytearray((tmp_path / "nald_enc.zip").read_bytes())
    damaged[len(damaged) // 2 : len(damaged) // 2 + 64] = bytes(64)
    for content, message in (
        (bytes(damaged), "nald_enc.zip: wrong password or corrupt member NALD.zip"),
        (b"PK\x03\x04 this is not an archive" * 100, "nald_enc.zip is not a readable zip archive"),
    ):
        (tmp_path / "damaged").write_bytes(content)
        s3.client().upload_file(str(tmp_path / "damaged"), bucket, KEY)
        run = run_import(wrls, {"force": True})
        assert run.status == "failed" and message in run.error, run.error
        assert snapshot(wrls) == before
    # A view of another service built on `import` is never dropped with the old schema: the swap refuses.
    upload(s3, bucket, tmp_path, files)
    with wrls.engine.begin() as connection:
        connection.execute(
            text('CREATE VIEW water.nald_licence_numbers AS SELECT "LIC_NO" FROM import."NALD_ABS_LICENCES"')
        )
    run = run_import(wrls, {"force": True})
    assert run.status == "failed" and "water.nald_licence_numbers" in run.error, run.error
    assert scalar(wrls, "SELECT count(*) FROM water.nald_licence_numbers") == len(licence_refs(files))

    # The password never reached the ledger or a log line.
    assert scalar(wrls, "SELECT count(*) FROM jobs.runs WHERE error LIKE :p", p=f"%{PASSWORD}%") == 0
    assert scalar(wrls, "SELECT count(*) FROM jobs.steps WHERE error LIKE :p", p=f"%{PASSWORD}%") == 0
    assert "wrong password" in process.output() and PASSWORD not in process.output()


STRAY_RETURN = text("""
    INSERT INTO returns.returns (return_id, regime, licence_type, licence_ref, start_date, end_date,
                                 returns_frequency, status, source)
    VALUES (:id, 'water', 'abstraction', :ref, '2019-04-01', '2020-03-31', 'month', :status, 'NALD')
""")


def test_one_licence_on_demand_its_returns_no_longer_in_nald_voided_and_an_unknown_one_refused(
    wrls, worker, vhost, s3, bucket, tmp_path
):
    files = extract_files(10, seed=5)
    upload(s3, bucket, tmp_path, files)
    worker()
    wait_worker_ready(vhost, "import")
    assert run_import(wrls).status == "succeeded"
    ref, other = sorted(refs_with_versions(files))[:2]
    before = snapshot(wrls, ("permit", "crm", "returns"))
    of_ref = "SELECT return_id, status FROM returns.returns WHERE licence_ref = :r AND return_id NOT LIKE 'v1:9:%'"
    real = dict(query(wrls, of_ref, r=ref))
    strays = {"v1:9:stray:1": (ref, "due"), "v1:9:stray:2": (ref, "void"), "v1:9:stray:3": (other, "due")}
    with wrls.engine.begin() as connection:
        connection.execute(text("DELETE FROM returns.returns WHERE licence_ref = :r"), {"r": ref})
        connection.execute(
            text("UPDATE crm.document_header SET date_deleted = now() WHERE system_external_id = :r"), {"r": ref}
        )
        for return_id, (licence, status) in strays.items():
            connection.execute(STRAY_RETURN, {"id": return_id, "ref": licence, "status": status})

    run = wait_run_ended(wrls, wrls.trigger("nald-import-licence", {"licence": ref}), 60)
    assert run.status == "succeeded", run.error
    assert run.counts["licences_imported"] == 1
    after = snapshot(wrls, ("permit", "crm", "returns"))
    # Rows come back as they were, but for the timestamps of the rows written again.
    assert after["permit.licence"] == before["permit.licence"]
    assert scalar(wrls, "SELECT date_deleted FROM crm.document_header WHERE system_external_id = :r", r=ref) is None
    assert after["returns.returns"][0] == before["returns.returns"][0] + len(strays)
    # Its return NALD no longer has is voided; another licence's is not this import's to touch.
    assert run.counts["returns_voided"] == 1
    statuses = dict(query(wrls, "SELECT return_id, status FROM returns.returns WHERE return_id LIKE 'v1:9:stray:%'"))
    assert statuses == {"v1:9:stray:1": "void", "v1:9:stray:2": "void", "v1:9:stray:3": "due"}
    assert real and dict(query(wrls, of_ref, r=ref)) == real

    refused = wait_run_ended(wrls, wrls.trigger("nald-import-licence", {"licence": "NO/SUCH/LICENCE"}), 60)
    assert refused.status == "failed" and "licence NO/SUCH/LICENCE is not in the NALD extract" in refused.error


# What an import wrote, as rows compared by their natural keys: generated ids (a licence's serial, a
# cycle's or document's random UUID) and the times of writing are left out, or named by the key they stand for.
IMPORTED = {
    "permit.licence": "SELECT to_jsonb(t) - 'licence_id' - 'date_created' - 'date_updated' FROM permit.licence t",
    "crm.document_header": (
        "SELECT to_jsonb(t) - 'document_id' - 'system_internal_id' - 'date_created' - 'date_updated' "
        "|| jsonb_build_object('licence', l.licence_ref) FROM crm.document_header t "
        "LEFT JOIN permit.licence l ON l.licence_id::text = t.system_internal_id"
    ),
    "returns.returns": (
        "SELECT to_jsonb(t) - 'id' - 'return_cycle_id' - 'created_at' - 'updated_at' "
        "|| jsonb_build_object('cycle', jsonb_build_array(c.start_date, c.end_date, c.is_summer)) "
        "FROM returns.returns t LEFT JOIN returns.return_cycles c USING (return_cycle_id)"
    ),
    "returns.return_cycles": "SELECT to_jsonb(t) - 'return_cycle_id' - 'created_at' - 'updated_at' FROM returns.return_cycles t",
}


def imported(service) -> dict[str, tuple[int, str]]:
    with service.engine.connect() as connection:
        return {
            table: tuple(
                connection.execute(
                    text(f"SELECT count(*), md5(string_agg(r::text, '|' ORDER BY r::text)) FROM ({sql}) AS q(r)")
                ).one()
            )
            for table, sql in IMPORTED.items()
        }


def test_a_chunked_import_writes_row_for_row_what_licence_by_licence_imports_write(
    wrls, worker, vhost, s3, bucket, tmp_path
):
    files = extract_files(150, seed=17)  # two chunks, one of them short
    upload(s3, bucket, tmp_path, files)
    worker()
    wait_worker_ready(vhost, "import")
    assert run_import(wrls).status == "succeeded"
    chunked = imported(wrls)
    assert chunked["permit.licence"][0] == len(refs_with_versions(files)) and chunked["returns.returns"][0] > 0

    with wrls.engine.begin() as connection:
        connection.execute(
            text("TRUNCATE permit.licence, crm.document_header, returns.returns, returns.return_cycles CASCADE")
        )
    # Each licence alone, in its own transaction, several at once as the worker's threads take them.
    runs = [wrls.trigger("nald-import-licence", {"licence": ref}) for ref in sorted(licence_refs(files))]
    assert {wait_run_ended(wrls, run_id, 120).status for run_id in runs} == {"succeeded"}

    assert imported(wrls) == chunked


def test_a_licence_with_bad_data_fails_alone_and_the_run_completes_with_failures(
    wrls, worker, vhost, s3, bucket, tmp_path
):
    files = extract_files(12, seed=11)
    # Spoil the reporting frequency of a format that has form logs, so it yields returns.
    formats, logs = files["NALD_RET_FORMATS"], files["NALD_RET_FORM_LOGS"]
    logged = {(r[logs[0].index("FGAC_REGION_CODE")], r[logs[0].index("ARTY_ID")]) for r in logs[1:]}
    line = next(
        n
        for n, r in enumerate(formats[1:], start=2)
        if (r[formats[0].index("FGAC_REGION_CODE")], r[formats[0].index("ID")]) in logged
    )
    column = formats[0].index("ARTC_REC_FREQ_CODE")
    files = spoil(files, "NALD_RET_FORMATS", line, lambda r: r[:column] + ["X"] + r[column + 1 :])
    upload(s3, bucket, tmp_path, files)
    worker()
    wait_worker_ready(vhost, "import")

    region, format_id = (formats[line - 1][formats[0].index(c)] for c in ("FGAC_REGION_CODE", "ID"))
    bad_ref = licence_of_format(files, region, format_id)

    run = run_import(wrls)
    assert run.status == "completed-with-failures" and run.children_failed == 1
    assert run.counts["licences_imported"] == len(refs_with_versions(files)) - 1
    assert run.note == f"1 of {len(licence_refs(files))} import-licence items failed: {bad_ref}"
    assert scalar(wrls, "SELECT count(*) FROM permit.licence WHERE licence_ref = :r", r=bad_ref) == 0
    [failed] = [c for c in LedgerView(wrls.engine).children(run.run_id, 2) if c.status == "failed"]
    assert "unknown ARTC_REC_FREQ_CODE 'X'" in failed.error and f"licence {bad_ref}" in failed.error
    # Bad data is not retried: its chunk was halved down to the licence, in its first attempt, so every
    # chunk succeeded at once, and its arrival is all the ledger keeps of it (a retried one keeps its row).
    wait_for(
        lambda: (
            scalar(
                wrls,
                "SELECT count(*) FROM jobs.steps WHERE run_id = :r AND actor LIKE '%.import-licence'",
                r=run.run_id,
            )
            == 0
        ),
        30,
        what="the import-licence rows deleted",
    )


def licence_of_format(files, region: str, format_id: str) -> str:
    formats, licences = files["NALD_RET_FORMATS"], files["NALD_ABS_LICENCES"]
    f, h = formats[0], licences[0]
    [licence_id] = {
        r[f.index("ARVN_AABL_ID")]
        for r in formats[1:]
        if (r[f.index("FGAC_REGION_CODE")], r[f.index("ID")]) == (region, format_id)
    }
    return next(
        r[h.index("LIC_NO")]
        for r in licences[1:]
        if (r[h.index("FGAC_REGION_CODE")], r[h.index("ID")]) == (region, licence_id)
    )


@pytest.mark.slow
def test_a_worker_killed_during_the_licence_fan_out_leaves_every_licence_imported_exactly_once(
    wrls, worker, vhost, s3, bucket, tmp_path
):
    files = extract_files(400, seed=13)
    upload(s3, bucket, tmp_path, files)
    # One thread: the four chunks of 100 licences commit one after the other, so the kill comes between two.
    first = worker(threads=1)
    wait_worker_ready(vhost, "import")
    run_id = wrls.trigger("nald-import")
    wait_for(
        lambda: scalar(wrls, "SELECT count(*) FROM permit.licence") >= 1,
        120,
        what="a first chunk of licences imported",
    )
    first.kill()
    done_before = scalar(wrls, "SELECT count(*) FROM permit.licence")
    assert done_before < len(refs_with_versions(files))  # the kill really came mid fan-out
    worker(threads=4)

    run = wait_run_ended(wrls, run_id, 300)
    assert run.status == "succeeded", run.error
    expected = refs_with_versions(files)
    assert run.counts["licences_imported"] == len(expected)  # each child counted once, redelivered or not
    assert scalar(wrls, "SELECT count(*) FROM permit.licence") == len(expected)
    assert scalar(wrls, "SELECT count(DISTINCT licence_ref) FROM permit.licence") == len(expected)
    assert scalar(wrls, "SELECT count(*) FROM crm.document_header") == len(expected)
    # Each chunk arrived once. The ledger keeps a row only of a chunk that did not succeed at once (the one
    # the kill cut short, redelivered), and every row it keeps is settled.
    arrivals = query(
        wrls,
        "SELECT count(*) AS n, count(DISTINCT message_id) AS m FROM jobs.barrier_arrivals WHERE run_id = :r",
        r=run_id,
    )[0]
    assert arrivals.n == arrivals.m == -(-len(licence_refs(files)) // CHUNK)

    def unsettled() -> int:
        return scalar(
            wrls,
            "SELECT count(*) FROM jobs.steps WHERE run_id = :r "
            "AND actor = 'nald-import.import-licence' AND status <> 'succeeded'",
            r=run_id,
        )

    wait_for(lambda: unsettled() == 0, 30, what="every import-licence row kept settled")
