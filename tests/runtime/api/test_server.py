"""`wrls-actors api` (runtime/api/server.py): what it refuses to start with, and what it says when it starts."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx

from tests.support.api import start_api
from tests.support.helpers import free_port
from tests.support.processes import ROOT, SAMPLE_APP
from wrls_actors.runtime.api.auth import mint


def run_api(env: dict, **extra: str) -> subprocess.CompletedProcess:
    """`wrls-actors api` run to its end: these refusals come before it would serve."""
    return subprocess.run(
        [sys.executable, "-m", "wrls_actors", "--app", SAMPLE_APP, "api"],
        cwd=ROOT,
        env={**env, "WRLS_API_PORT": str(free_port()), **extra},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_with_a_broker_and_no_secret_it_refuses_to_start_naming_the_variable(env):
    assert "WRLS_API_JWT_SECRET" not in env and env["WRLS_BROKER_URL"]

    for given in ({}, {"WRLS_API_JWT_SECRET": ""}):
        done = run_api(env, **given)

        assert done.returncode == 2, done.stderr
        assert "WRLS_API_JWT_SECRET is not set" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_secret_shorter_than_32_characters_is_refused_naming_the_variable(env):
    done = run_api(env, WRLS_API_JWT_SECRET="s" * 31)

    assert done.returncode == 2, done.stderr
    assert "WRLS_API_JWT_SECRET is too short: it must have at least 32 characters, it has 31" in done.stderr
    assert "s" * 31 not in done.stderr + done.stdout


def test_a_secret_of_32_characters_is_taken_and_signs_the_tokens_it_accepts(processes):
    secret = "0123456789abcdef" * 2
    api = start_api(processes, extra_env={"WRLS_API_JWT_SECRET": secret})

    mine = httpx.get(f"{api.base}/api/v1/jobs", headers={"Authorization": f"Bearer {mint(secret, 'me')}"})
    # The client signs with the suite's usual secret: not this service's.
    other = api.client().get("/api/v1/jobs")

    assert mine.status_code == 200
    assert other.status_code == 401
    output = api.process.output()
    assert f"API on {api.base} (bearer tokens; OpenAPI at /api/v1/openapi.json)" in output
    assert secret not in output


def test_a_port_already_taken_is_refused_naming_the_variable(env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_api(env, WRLS_API_JWT_SECRET="x" * 40, WRLS_API_PORT=str(port))

    assert done.returncode == 2, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "WRLS_API_PORT" in done.stderr
