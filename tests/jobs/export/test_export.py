"""export end to end: a real worker, PostgreSQL with the WRLS tables (as `db upgrade` makes them), and a real
S3 API (moto), for the tarballs' content, a schema that fails while the others export, an upload that fails
keeping the previous object, and a table bigger than one part streamed in several."""

from __future__ import annotations

import io
import json
import tarfile
import uuid

import pytest

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.messages import publish
from tests.support.s3_faults import FaultyS3
from wrls_actors.jobs.export.csv_rules import camel_case
from wrls_actors.jobs.export.store import SCHEMAS

PART_MIB = 5


def trigger(wrls):
    return wait_run_ended(wrls, wrls.trigger("export", {}), 180)


def base_tables(wrls) -> dict[str, list[str]]:
    rows = query(
        wrls,
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema = ANY(:s) AND table_type = 'BASE TABLE' ORDER BY 1, 2",
        s=list(SCHEMAS),
    )
    tables: dict[str, list[str]] = {}
    for schema, table in rows:
        tables.setdefault(schema, []).append(table)
    return tables


def columns(wrls, schema: str, table: str) -> list[str]:
    return [
        r[0]
        for r in query(
            wrls,
            "SELECT column_name FROM information_schema.columns WHERE table_schema = :s "
            "AND table_name = :t ORDER BY ordinal_position",
            s=schema,
            t=table,
        )
    ]


def tarball(s3, bucket, schema) -> dict[str, bytes]:
    body = s3.client().get_object(Bucket=bucket, Key=f"export/{schema}.tgz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def execute(wrls, *statements: str) -> None:
    with wrls.engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


@pytest.fixture
def idm(wrls):
    """The idm schema of the water service (the model has none of its tables)."""
    execute(
        wrls,
        "CREATE SCHEMA IF NOT EXISTS idm",
        "CREATE TABLE idm.users (user_id serial PRIMARY KEY, user_name varchar NOT NULL, "
        "last_login timestamp, user_data jsonb, enabled boolean NOT NULL DEFAULT true)",
        "INSERT INTO idm.users (user_name, last_login, user_data, enabled) VALUES "
        "('a@example.com', '2024-03-01 09:15:00.250', '{\"lastName\": \"Smith, J\"}', true), "
        "('b@example.com', NULL, NULL, false)",
    )


@pytest.fixture
def start(wrls, worker, vhost, bucket):
    def go(endpoint: str | None = None):
        extra = {"WRLS_EXPORT_BUCKET": bucket, "WRLS_EXPORT_PART_MIB": str(PART_MIB)}
        if endpoint:
            extra["WRLS_S3_ENDPOINT_URL"] = endpoint
        worker(extra)
        wait_worker_ready(vhost, "import")
        return wrls

    return go


def test_every_base_table_of_every_schema_is_a_csv_member_with_the_legacys_headers_and_values(start, idm, s3, bucket):
    wrls = start()
    execute(
        wrls,
        "CREATE VIEW crm.not_a_table AS SELECT 1 AS one",
        "CREATE TABLE crm_v2.export_sample (sample_id uuid PRIMARY KEY, address_line_1 text, "
        "count_2 integer, rate numeric(8,3), created_at timestamptz, start_date date, notes text)",
        "INSERT INTO crm_v2.export_sample VALUES "
        "('20146cdc-9b40-4769-aa78-b51c17080d56', '1 \"The\" Street, Town', 0, 2.500, "
        "'2024-01-15 10:30:00+00', '2024-04-01', ''), "
        "('30146cdc-9b40-4769-aa78-b51c17080d56', NULL, NULL, NULL, '2024-01-16 00:00:00+00', NULL, "
        "E'line one\\nline two')",
    )
    run = trigger(wrls)
    assert run.status == "succeeded", run.error
    assert run.note == f"exported {', '.join(SCHEMAS)}"
    tables = base_tables(wrls)
    assert set(tables) == set(SCHEMAS)
    assert run.counts["tables_exported"] == sum(len(t) for t in tables.values())
    assert run.counts["schemas_exported"] == len(SCHEMAS)

    for schema in SCHEMAS:
        members = tarball(s3, bucket, schema)
        assert sorted(members) == [f"{schema}/{t}.csv" for t in tables[schema]], schema
        for table in tables[schema]:
            header = members[f"{schema}/{table}.csv"].split(b"\n", 1)[0].decode()
            assert header == ",".join(f'"{camel_case(c)}"' for c in columns(wrls, schema, table)), table

    sample = tarball(s3, bucket, "crm_v2")["crm_v2/export_sample.csv"].decode()
    assert sample == (
        '"sampleId","addressLine1","count2","rate","createdAt","startDate","notes"\n'
        '"20146cdc-9b40-4769-aa78-b51c17080d56","1 ""The"" Street, Town",0,2.5,2024-01-15T10:30:00.000Z,2024-04-01,\n'
        '"30146cdc-9b40-4769-aa78-b51c17080d56",,,,2024-01-16,,"line one\nline two"\n'
    )
    users = tarball(s3, bucket, "idm")["idm/users.csv"].decode()
    assert users == (
        '"userId","userName","lastLogin","userData","enabled"\n'
        '1,"a@example.com",2024-03-01T09:15:00.250Z,"{""lastName"": ""Smith,  J""}",true\n'
        '2,"b@example.com",,,false\n'
    )
    assert "crm/not_a_table.csv" not in tarball(s3, bucket, "crm")
    # Each object names the run that wrote it.
    head = s3.client().head_object(Bucket=bucket, Key="export/water.tgz")
    assert head["Metadata"] == {"wrls-run-id": str(run.run_id)}


def test_a_schema_that_fails_is_named_while_the_others_export_and_its_previous_object_stays(start, s3, bucket, vhost):
    wrls = start()
    wait_worker_ready(vhost, "control")
    # No idm schema here: the legacy's "no tables" error, for one schema only.
    s3.client().put_object(Bucket=bucket, Key="export/idm.tgz", Body=b"last week's export")
    # Started as another service would: a start-job message.
    message_id = str(uuid.uuid4())
    publish(
        vhost,
        "control",
        json.dumps(
            {"queue_name": "control", "actor_name": "start-job", "message_id": message_id, "kwargs": {"job": "export"}}
        ).encode(),
    )
    run_id = svc.wait_for(
        lambda: scalar(wrls, "SELECT run_id FROM jobs.runs WHERE trigger_key = :k", k=message_id),
        30,
        what="the export's run",
    )
    run = wait_run_ended(wrls, str(run_id), 180)
    assert (run.status, run.trigger) == ("completed-with-failures", "message"), run.error
    assert run.children_failed == 1
    assert (
        run.note == "exported water, returns, crm, crm_v2, permit; FAILED idm (their previous objects, if any, "
        "are kept)"
    )
    assert s3.client().get_object(Bucket=bucket, Key="export/idm.tgz")["Body"].read() == b"last week's export"
    failed = query(wrls, "SELECT error FROM jobs.steps WHERE run_id = :r AND status = 'failed'", r=run.run_id)
    assert len(failed) == 1 and "schema idm has no tables: nothing to export" in failed[0].error
    assert "Traceback" not in failed[0].error
    for schema in ("water", "returns", "crm", "crm_v2", "permit"):
        assert tarball(s3, bucket, schema)
    # The metrics count it as every run is counted.
    assert (
        scalar(
            wrls,
            "SELECT value FROM jobs.counters WHERE name = 'runs_total' AND labels = CAST(:l AS jsonb)",
            l=json.dumps({"job": "export", "outcome": "completed-with-failures"}),
        )
        == 1
    )


def big_table(wrls, schema: str, rows: int = 200_000) -> None:
    """Random hex barely compresses: ~14 MB of CSV, ~7 MB of gzip, more than one 5 MiB part."""
    execute(
        wrls,
        f"CREATE TABLE {schema}.export_bulk (n integer, a text, b text)",
        f"INSERT INTO {schema}.export_bulk SELECT n, md5(n::text), md5((n * 7)::text) "
        f"FROM generate_series(1, {rows}) n",
    )


def test_a_table_bigger_than_a_part_streams_in_several_parts_and_a_failed_part_keeps_the_previous_object(
    start, idm, s3, bucket
):
    faulty = FaultyS3(
        s3.endpoint,
        lambda method, path, query: (
            method == "PUT" and path.endswith("/export/water.tgz") and query.get("partNumber") == ["2"]
        ),
    )
    try:
        wrls = start(faulty.endpoint)
        big_table(wrls, "water")
        big_table(wrls, "returns")
        s3.client().put_object(Bucket=bucket, Key="export/water.tgz", Body=b"the previous export")
        previous = s3.client().head_object(Bucket=bucket, Key="export/water.tgz")["ETag"]
        run = trigger(wrls)
        assert run.status == "completed-with-failures", run.error
        assert "FAILED water" in run.note
        # Part 2 of water failed on every try (boto3's retries, then the step's): part 1 went in, yet the
        # object is the one from before, and no upload is left open.
        assert faulty.failed and {q["partNumber"][0] for _, _, q in faulty.failed} == {"2"}
        assert s3.client().head_object(Bucket=bucket, Key="export/water.tgz")["ETag"] == previous
        assert s3.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

        # returns: the same size, sent in more than one part, and whole.
        parts = s3.client().head_object(Bucket=bucket, Key="export/returns.tgz", PartNumber=1)["PartsCount"]
        assert parts > 1
        bulk = tarball(s3, bucket, "returns")["returns/export_bulk.csv"].decode().split("\n")
        assert bulk[0] == '"n","a","b"' and len(bulk) == 200_000 + 2 and bulk[-1] == ""
        assert bulk[1].startswith('1,"') and bulk[200_000].startswith('200000,"')
    finally:
        faulty.stop()
