"""WRLS jobs against real services: the WRLS app in worker processes, a real
S3 API server (moto), and helpers to compare the database before and after."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import fresh_database, fresh_vhost, process_env, process_starter
from tests.support.notify import FakeNotify
from tests.support.processes import WRLS_APP, Process
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


def new_bucket(s3) -> str:
    name = f"nald-{uuid.uuid4().hex[:10]}"
    s3.client().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    return name


def object_store_env(s3, bucket: str, folder: Path) -> dict[str, str]:
    """The object store, the archive password, a work folder."""
    return {
        **CREDENTIALS,
        "WRLS_S3_ENDPOINT_URL": s3.endpoint,
        "WRLS_NALD_BUCKET": bucket,
        "WRLS_NALD_ZIP_PASSWORD": PASSWORD,
        "WRLS_WORK_DIR": str(folder / "work"),
    }


@pytest.fixture
def bucket(s3):
    return new_bucket(s3)


@pytest.fixture
def job_env(s3, bucket, tmp_path):
    """What the jobs under test need besides the database and broker: by default the object store, the archive
    password and a work folder. A job folder whose jobs need something else overrides this fixture."""
    return object_store_env(s3, bucket, tmp_path)


@pytest.fixture
def wrls_env(env, job_env):
    """The worker's environment."""
    return {**env, **job_env}


@pytest.fixture
def notify_templates() -> dict[str, str] | None:
    """The templates the fake Notify knows, and their fields; None: any template. A folder overrides this
    fixture when its job's legacy template has fields of its own."""
    return None


@pytest.fixture
def notify(notify_templates):
    """A fake GOV.UK Notify (tests/support/notify.py), for the jobs that send through it."""
    with FakeNotify(templates=notify_templates) as fake:
        yield fake


def notify_env(notify: FakeNotify, **extra: str) -> dict:
    """What a worker needs to send through the fake Notify, its rate limit high enough never to slow a test
    down (unless the test is about it)."""
    return {**notify.worker_env(), "WRLS_NOTIFY_RATE_LIMIT": "1000000", **extra}


@contextmanager
def wrls_service(wrls_env: dict) -> Iterator[Service]:
    """The WRLS service in the test process (to trigger jobs and read the ledger)."""
    service = Service(Settings.from_env("WRLS", wrls_env), JOBS, SCHEDULES, create_tables=create_missing)
    yield service
    service.ledger.close()
    if "broker" in service.__dict__:
        service.broker.close()


def worker_starter(processes, wrls_env: dict) -> Callable[..., Process]:
    def start(extra_env: dict | None = None, threads: int = 4):
        return processes(
            "worker", extra_env={**wrls_env, "WRLS_WORKER_THREADS": str(threads), **(extra_env or {})}, app=WRLS_APP
        )

    return start


@pytest.fixture
def wrls(wrls_env):
    with wrls_service(wrls_env) as service:
        yield service


@pytest.fixture
def worker(processes, wrls_env):
    return worker_starter(processes, wrls_env)


def snapshot(service, schemas=("import", "permit", "crm", "returns", "water")) -> dict[str, tuple[int, str]]:
    """Every table of these schemas: its row count and a digest of its rows in a fixed order."""
    with service.engine.connect() as connection:
        tables = connection.execute(
            text(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema = ANY(:s) AND table_type = 'BASE TABLE' ORDER BY 1, 2"
            ),
            {"s": list(schemas)},
        ).all()
        result = {}
        for schema, table in tables:
            name = f'"{schema}"."{table}"'
            result[f"{schema}.{table}"] = tuple(
                connection.execute(
                    text(f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {name} t")
                ).one()
            )
        return result


def add_bill_licence(service, *, batch_type: str, year: int, account: str, licence_ref: str) -> str:
    """A sent bill run of one bill with one bill licence, as billing writes them; returns the bill licence's id."""
    with service.engine.begin() as connection:
        return str(
            connection.execute(
                text("""
            WITH b AS (INSERT INTO water.billing_batches (region_id, batch_type, from_financial_year_ending,
                                                          to_financial_year_ending, status)
                       VALUES (gen_random_uuid(), :type, :year, :year, 'sent') RETURNING billing_batch_id),
                 i AS (INSERT INTO water.billing_invoices (billing_batch_id, invoice_account_number,
                                                           financial_year_ending)
                       SELECT billing_batch_id, :account, :year FROM b RETURNING billing_invoice_id)
            INSERT INTO water.billing_invoice_licences (billing_invoice_id, licence_ref)
            SELECT billing_invoice_id, :ref FROM i RETURNING billing_invoice_licence_id"""),
                {"type": batch_type, "year": year, "account": account, "ref": licence_ref},
            ).scalar_one()
        )


@pytest.fixture
def load_nald(wrls, tmp_path):
    """Load a generated NALD extract into schema `import` directly (no worker); returns the files' rows.

    For jobs that read `import`: they start from the state a nald-import leaves.
    """
    return nald_loader(wrls, tmp_path)


def nald_loader(wrls, tmp_path: Path) -> Callable[..., dict[str, list[list[str]]]]:
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


@dataclass
class Stack:
    """What the function-scoped fixtures `wrls`, `vhost`, `worker` and `load_nald` give, for a whole module."""

    wrls: Service
    vhost: str
    worker: Callable[..., Process]
    load_nald: Callable[..., dict[str, list[list[str]]]]


@pytest.fixture(scope="module")
def module_stack(template_db, s3, tmp_path_factory, request):
    """One database, virtual host, WRLS service and worker for every test of a module (default `job_env`): for a
    scenario too slow to run for each test, run once by a module-scoped fixture whose tests each check a part.

    Tests run in the file's order, and pytest-xdist may share a module's tests out between its processes, each
    with its own stack and scenario: every test checks what the scenario left, except those that change it,
    which come last in the file."""
    folder = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    failures = request.session.testsfailed
    with fresh_database(template_db) as database, fresh_vhost() as vhost:
        wrls_env = {**process_env(database, vhost), **object_store_env(s3, new_bucket(s3), folder)}
        with (
            process_starter(wrls_env, folder, lambda: request.session.testsfailed > failures) as processes,
            wrls_service(wrls_env) as service,
        ):
            yield Stack(service, vhost, worker_starter(processes, wrls_env), nald_loader(service, folder))
