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
