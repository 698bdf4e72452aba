"""Faults injected for real: the machine's RabbitMQ and PostgreSQL stopped and started with the
machine's own commands, processes killed. Every test here is slow and restores what it broke,
pass or fail.

These tests stop services other tests use: run them on their own (`make test-slow`, or the
whole suite, which runs them in one process after the others).
"""

from __future__ import annotations

import dataclasses
import glob
import os
import subprocess
import time

import pytest

from tests.support import services as svc


def _run(*command: str, timeout_s: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)


def _wait(check, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def _management_up() -> bool:
    try:
        svc.management("GET", "/overview", timeout_s=3)
        return True
    except Exception:
        return False


class RabbitMQ:
    """The machine's RabbitMQ node: `rabbitmqctl stop`, then `rabbitmq-server -detached`."""

    def stop(self) -> None:
        _run("rabbitmqctl", "stop")
        _wait(lambda: not svc.port_open(svc.AMQP_PORT), 60, "RabbitMQ to stop")

    def start(self) -> None:
        if not svc.port_open(svc.AMQP_PORT):
            _run("rabbitmq-server", "-detached")
        _wait(lambda: svc.port_open(svc.AMQP_PORT), 120, "RabbitMQ to accept connections")
        _wait(_management_up, 120, "RabbitMQ's management API")


class PostgreSQL:
    """The machine's PostgreSQL cluster, through pg_ctlcluster."""

    def __init__(self) -> None:
        versions = sorted(os.path.basename(p) for p in glob.glob("/etc/postgresql/*"))
        self.version = versions[0] if versions else None

    def _ctl(self, action: str, *options: str) -> None:
        done = _run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", action, *options)
        if done.returncode != 0 and action != "start":
            raise AssertionError(f"pg_ctlcluster {action} failed: {done.stderr}")

    def restart(self) -> None:
        # Fast: sessions are cut off as in a crash-restart of the database server.
        self._ctl("restart", "-m", "fast")
        _wait(lambda: svc.port_open(5432), 60, "PostgreSQL to accept connections")

    def start(self) -> None:
        if not svc.port_open(5432):
            self._ctl("start")
        _wait(lambda: svc.port_open(5432), 60, "PostgreSQL to accept connections")


def _needs(command: str) -> None:
    if _run("sh", "-c", f"command -v {command}").returncode != 0:
        message = f"{command} is not installed: the machine's own commands are needed to inject this fault"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def rabbitmq():
    _needs("rabbitmqctl")
    node = RabbitMQ()
    try:
        yield node
    finally:
        node.start()


@pytest.fixture
def postgresql():
    _needs("pg_ctlcluster")
    cluster = PostgreSQL()
    if cluster.version is None:
        pytest.skip("no PostgreSQL cluster under /etc/postgresql")
    try:
        yield cluster
    finally:
        cluster.start()


@dataclasses.dataclass
class Tally:
    """What a fault test prints: faults injected, messages sent, completed, duplicated, lost."""

    name: str
    faults: list[str] = dataclasses.field(default_factory=list)
    sent: int = 0
    completed: int = 0
    duplicated: int = 0
    lost: int = 0

    def line(self) -> str:
        return (
            f"[{self.name}] faults injected: {len(self.faults)} ({'; '.join(self.faults)}), "
            f"messages sent: {self.sent}, completed: {self.completed}, duplicated: {self.duplicated}, "
            f"lost: {self.lost}"
        )


# The root conftest prints them (with pytest-xdist, only it is loaded where the summary is written).
TALLY = "fault-tally"


@pytest.fixture
def tally(request):
    """The test's figures, printed at the end of the run whether it passes or fails.

    Kept on the test's report (``user_properties``), which pytest-xdist carries from
    its worker processes to the one that prints the summary.
    """
    result = Tally(request.node.name)
    yield result
    request.node.user_properties.append((TALLY, result.line()))
