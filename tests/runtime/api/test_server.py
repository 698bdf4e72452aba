"""`wrls-actors api` (runtime/api/server.py): what it refuses to start with, and what it says when it starts."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import httpx

from tests.support.api import TEST_API_SECRET, start_api
from tests.support.helpers import free_port
from tests.support.processes import ROOT, SAMPLE_APP
from wrls_actors.runtime import Service, Settings
from wrls_actors.runtime.api.auth import mint
from wrls_actors.runtime.api.server import bind


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


def test_the_api_sends_a_response_at_once_not_after_the_clients_delayed_ack():
    """uvicorn writes a response's headers and its body apart; with Nagle's algorithm on, the body waits for
    the client's delayed ACK (40 ms on Linux, on every request). asyncio turns it off on the connections of
    a listening socket whose protocol says TCP: the one bind() makes, which uvicorn serves."""
    env = {
        "WRLS_BROKER_URL": "amqp://127.0.0.1/unused",
        "WRLS_DATABASE_URL": "postgresql://127.0.0.1/unused",
        "WRLS_MESSAGE_KEY": "k" * 32,
        "WRLS_API_JWT_SECRET": TEST_API_SECRET,
        "WRLS_API_PORT": str(free_port()),
    }
    listening = bind(Service(Settings.from_env("WRLS", env), ()))

    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=listening)
        async with server:
            _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
            try:
                return await asyncio.wait_for(seen, 10)
            finally:
                writer.close()

    assert asyncio.run(accepted_nodelay()) != 0
