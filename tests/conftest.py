from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import services as svc
from tests.support.messages import TEST_MESSAGE_KEY
from tests.support.processes import SAMPLE_APP, Process
from tests.support.sample_app import build, prepare_database
from wrls_actors.model import create_missing

# The browser and its pages (tests/support/browser.py), for every test that asks for them.
pytest_plugins = ["tests.support.browser"]


@pytest.fixture(scope="session")
def template_db():
    """A database with the ledger, the sample app's tables and WRLS's, copied for each test."""
    svc.require(5432, "PostgreSQL")
    name = svc.create_database()
    env = {
        "WRLS_DATABASE_URL": svc.database_url(name),
        "WRLS_BROKER_URL": "amqp://unused",
        "WRLS_MESSAGE_KEY": TEST_MESSAGE_KEY,
    }
    service = build(env)
    service.upgrade_database()
    prepare_database(service.engine)
    with service.engine.begin() as connection:
        create_missing(connection)
    service.engine.dispose()
    yield name
    svc.drop_database(name)


@contextmanager
def fresh_database(template: str) -> Iterator[str]:
    name = svc.create_database(template=template)
    yield name
    from wrls_actors.runtime.database import _engines

    for (pid, url), engine in list(_engines.items()):
        if url.endswith(f"/{name}"):
            engine.dispose()
            del _engines[(pid, url)]
    svc.drop_database(name)


@contextmanager
def fresh_vhost() -> Iterator[str]:
    svc.require(5672, "RabbitMQ")
    svc.require(15672, "RabbitMQ management API")
    name = svc.create_vhost()
    yield name
    svc.delete_vhost(name)


@pytest.fixture
def database(template_db):
    with fresh_database(template_db) as name:
        yield name


@pytest.fixture
def vhost():
    with fresh_vhost() as name:
        yield name


@pytest.fixture
def env(database, vhost, request):
    """``@pytest.mark.schedules("a,b")`` enables those sample schedules."""
    marker = request.node.get_closest_marker("schedules")
    return process_env(database, vhost, marker.args[0] if marker else "")


def process_env(database: str, vhost: str, schedules: str = "") -> dict[str, str]:
    """Environment of the processes under test: fast heartbeats and sweeps."""
    return {
        "TEST_SCHEDULES": schedules,
        **{k: v for k, v in os.environ.items() if not k.startswith("WRLS_")},
        "WRLS_BROKER_URL": svc.broker_url(vhost),
        "WRLS_DATABASE_URL": svc.database_url(database),
        "WRLS_MESSAGE_KEY": TEST_MESSAGE_KEY,
        "WRLS_HEARTBEAT_S": "1",
        "WRLS_STALL_AFTER_S": "4",
        "WRLS_STALL_GRACE_S": "2",
        "WRLS_SWEEP_S": "1",
        "WRLS_LEDGER_FLUSH_MS": "50",
        "WRLS_WORKER_PROCESSES": "1",
        "WRLS_WORKER_THREADS": "4",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def service(env):
    """The sample service in the test process: to trigger jobs and read the ledger."""
    service = build(env)
    yield service
    service.ledger.close()
    if "broker" in service.__dict__:
        service.broker.close()


@contextmanager
def process_starter(env: dict, log_dir: Path, failed: Callable[[], bool]) -> Iterator[Callable[..., Process]]:
    """Start real processes (`worker`, `scheduler`, `exporter`); all stopped at the end, their output
    printed if ``failed()`` says so then."""
    started: list[Process] = []

    def start(*args: str, extra_env: dict | None = None, app: str = SAMPLE_APP) -> Process:
        process = Process(args[0], list(args), {**env, **(extra_env or {})}, log_dir, app=app)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
    if failed():
        for process in started:
            print(f"----- {process.log_path.name}\n{process.output()[-6000:]}")


@pytest.fixture
def processes(env, tmp_path, request):
    def failed() -> bool:
        return request.node.rep_call.failed if hasattr(request.node, "rep_call") else False

    with process_starter(env, tmp_path, failed) as start:
        yield start


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def pytest_collection_modifyitems(items):
    """The slow tests first (stable, otherwise in file order): run last, one of them would keep a slot busy
    after the others have finished, and the suite's wall time is its longest slot's."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_terminal_summary(terminalreporter):
    """The fault-injection figures (tests/faults/conftest.py keeps them on each test's report)."""
    from tests.faults.conftest import TALLY

    lines = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            for key, value in getattr(report, "user_properties", ()):
                if key == TALLY:
                    lines[report.nodeid] = value
    if lines:
        terminalreporter.section("fault injection")
        for line in lines.values():
            terminalreporter.write_line(line)
