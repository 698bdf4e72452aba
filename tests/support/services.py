"""Real PostgreSQL and RabbitMQ for the tests: a fresh database and a fresh
RabbitMQ virtual host per test, so tests never see each other's messages or rows."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import quote

import psycopg2
import pytest

PG = dict(host="127.0.0.1", port=5432, user="postgres")
AMQP_PORT = 5672
MANAGEMENT = "http://127.0.0.1:15672"
CREDENTIALS = base64.b64encode(b"guest:guest").decode()


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def require(port: int, what: str) -> None:
    """Skip on a laptop without the service; fail under CI, where it must be there."""
    if not port_open(port):
        message = f"{what} is not reachable on 127.0.0.1:{port}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must have it: see scripts/services.sh)")
        pytest.skip(message)


def management(method: str, path: str, body: dict | None = None, timeout_s: float = 10):
    request = urllib.request.Request(
        f"{MANAGEMENT}/api{path}", method=method, data=None if body is None else json.dumps(body).encode()
    )
    request.add_header("Authorization", f"Basic {CREDENTIALS}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        payload = response.read()
        return json.loads(payload) if payload else None


def create_vhost() -> str:
    name = f"test-{uuid.uuid4().hex[:10]}"
    management("PUT", f"/vhosts/{quote(name)}", {})
    management("PUT", f"/permissions/{quote(name)}/guest", {"configure": ".*", "write": ".*", "read": ".*"})
    return name


def delete_vhost(name: str) -> None:
    try:
        management("DELETE", f"/vhosts/{quote(name)}")
    except urllib.error.URLError:
        pass


def queue_stats(vhost: str, queue: str) -> dict:
    try:
        return management("GET", f"/queues/{quote(vhost, safe='')}/{quote(queue, safe='')}")
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return {}
        raise


def admin_connection(dbname: str = "postgres"):
    connection = psycopg2.connect(dbname=dbname, **PG)
    connection.autocommit = True
    return connection


def create_database(template: str | None = None) -> str:
    name = f"test_{uuid.uuid4().hex[:12]}"
    connection = admin_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        connection.close()
    return name


def drop_database(name: str) -> None:
    connection = admin_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        connection.close()


def database_url(name: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def broker_url(vhost: str) -> str:
    return f"amqp://guest:guest@127.0.0.1:{AMQP_PORT}/{quote(vhost, safe='')}"


def wait_for(predicate, timeout_s: float = 30, interval_s: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)
