"""WRLS jobs against real services: the WRLS app in worker processes, a real
S3 API server (moto), and helpers to compare the database before and after."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tests.support.processes import WRLS_APP
from tests.support.s3 import CREDENTIALS, S3Server
from wrls_actors.jobs import JOBS
from wrls_actors.model import create_missing
from wrls_actors.runtime import Service, Settings
from wrls_actors.schedules import SCHEDULES

PASSWORD = "test-nald-password"


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    server = S3Server(tmp_path_factory.mktemp("s3") / "moto.log")
    yield server
    server.stop()


@pytest.fixture
def bucket(s3):
    name = f"nald-{uuid.uuid4().hex[:10]}"
    s3.client().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    return name


@pytest.fixture
def wrls_env(env, s3, bucket, tmp_path):
    """The worker's environment: the object store, the archive password, a work folder."""
    return {
        **env, **CREDENTIALS,
        "WRLS_S3_ENDPOINT_URL": s3.endpoint,
        "WRLS_NALD_BUCKET": bucket,
        "WRLS_NALD_ZIP_PASSWORD": PASSWORD,
        "WRLS_WORK_DIR": str(tmp_path / "work"),
    }


@pytest.fixture
def wrls(wrls_env):
    """The WRLS service in the test process (to trigger jobs and read the ledger)."""
    service = Service(Settings.from_env("WRLS", wrls_env), JOBS, SCHEDULES, create_tables=create_missing)
    yield service
    service.ledger.close()
    if "broker" in service.__dict__:
        service.broker.close()


@pytest.fixture
def worker(processes, wrls_env):
    def start(extra_env: dict | None = None, threads: int = 4):
        return processes("worker", extra_env={**wrls_env, "WRLS_WORKER_THREADS": str(threads), **(extra_env or {})},
                         app=WRLS_APP)

    return start


def snapshot(service, schemas=("import", "permit", "crm", "returns", "water")) -> dict[str, tuple[int, str]]:
    """Every table of these schemas: its row count and a digest of its rows in a fixed order."""
    with service.engine.connect() as connection:
        tables = connection.execute(
            text("SELECT table_schema, table_name FROM information_schema.tables "
                 "WHERE table_schema = ANY(:s) AND table_type = 'BASE TABLE' ORDER BY 1, 2"),
            {"s": list(schemas)}).all()
        result = {}
        for schema, table in tables:
            name = f'"{schema}"."{table}"'
            result[f"{schema}.{table}"] = tuple(connection.execute(text(
                f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {name} t")).one())
        return result


@pytest.fixture
def load_nald(wrls, tmp_path):
    """Load a generated NALD extract into schema `import` directly (no worker); returns the files' rows.

    For jobs that read `import`: they start from the state a nald-import leaves.
    """
    from wrls_actors.jobs.nald_import.archive import InnerArchive, unpack_outer
    from wrls_actors.jobs.nald_import.load import index_and_analyse, load_all
    from wrls_actors.jobs.nald_import.swap import swap_in
    from wrls_actors.model.nald import NALD_TABLES
    from wrls_actors.tools.nald_synth import synthesize, write_synthetic_extract

    def load(licences: int = 20, seed: int = 1) -> dict[str, list[list[str]]]:
        folder = tmp_path / f"nald-{licences}-{seed}"
        folder.mkdir()
        write_synthetic_extract(folder / "nald_enc.zip", PASSWORD, licences, seed)
        inner = unpack_outer(folder / "nald_enc.zip", PASSWORD, folder, 2**40)
        with InnerArchive(inner, 2**40) as archive:
            tables = load_all(wrls.engine, archive)
        index_and_analyse(wrls.engine, tables)
        with wrls.engine.begin() as connection:
            swap_in(connection, f"test-{licences}-{seed}", max_shrink_percent=None)
        columns = {t.name: list(t.columns) for t in NALD_TABLES}
        return {table: [columns[table], *rows] for table, rows in synthesize(licences, seed)}

    return load
