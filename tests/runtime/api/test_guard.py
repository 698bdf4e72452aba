"""The guard (runtime/api/guard.py) and the refusals' shapes (problems.py) against a real `api` process:
bodies over 1 MiB refused whether their length is declared or not, every refusal logged without the body,
and no answer ever carrying a stack trace."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from tests.support.api import start_api
from tests.support.helpers import free_port, scalar
from tests.support.services import wait_for
from wrls_actors.runtime.api.guard import MAX_BODY_BYTES

# Looks like a credential a caller might send by mistake: it must never reach the log.
SECRET = "sk_live_51HxQpLDyX7c0FFEE0ddba11"


def chunks(total: int, size: int = 64 * 1024):
    """A body with no Content-Length: httpx sends a generator chunked."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        yield b" " * piece
        sent += piece


def raw_request(base: str, request: bytes) -> bytes:
    """What the server answers to bytes no HTTP client would send."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_a_body_of_exactly_1_mib_is_taken_and_one_byte_more_is_413(api, service):
    # Valid JSON padded with blanks to the limit.
    body = json.dumps({"params": {}, "force": True}).encode()
    exactly = body + b" " * (MAX_BODY_BYTES - len(body))
    with api.client() as client:
        client.headers["Content-Type"] = "application/json"
        taken = client.post("/api/v1/jobs/noop/runs", content=exactly)
        refused = client.post("/api/v1/jobs/noop/runs", content=exactly + b" ")

    assert taken.status_code == 202, taken.text
    assert refused.status_code == 413
    assert refused.json() == {
        "error": "too-large",
        "message": f"the body is over {MAX_BODY_BYTES} bytes",
        "fields": [],
        "run_id": None,
    }
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 1


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_1_mib_is_413_on_api_v1_and_on_a_trigger_route_and_starts_nothing(api, service, declared):
    def body():
        return b" " * (MAX_BODY_BYTES + 1) if declared else chunks(2 * MAX_BODY_BYTES)

    with api.client() as client:
        client.headers["Content-Type"] = "application/json"
        v1 = client.post("/api/v1/jobs/noop/runs", content=body())
        legacy = client.post("/import/fan?n=2", content=body())

    assert v1.status_code == 413, v1.text
    assert v1.json()["error"] == "too-large"
    assert legacy.status_code == 413, legacy.text
    assert legacy.content == (
        b'{"statusCode":413,"error":"Request Entity Too Large","message":"the body is over 1048576 bytes"}'
    )
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 0


@pytest.mark.parametrize("length", [b"abc", b"-5", b"1e3"])
def test_a_content_length_that_is_not_a_whole_number_is_400_and_starts_nothing(api, service, length):
    answer = raw_request(
        api.base,
        b"POST /api/v1/jobs/noop/runs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + length + b"\r\nConnection: close\r\n\r\n{}",
    )

    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert b"Traceback" not in answer
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 0
    # uvicorn refuses such a request before the application sees it; it logs that it did.
    wait_for(lambda: "Invalid HTTP request received" in api.process.output(), 10, what="uvicorn's refusal logged")


def test_every_refused_request_is_logged_with_method_path_and_status_and_its_body_nowhere(api, service):
    secret_body = json.dumps({"params": {}, "note": SECRET}).encode()
    big = (SECRET.encode() + b" ") * (MAX_BODY_BYTES // len(SECRET) + 1)

    def secret_chunks():
        for _ in range(40):
            yield SECRET.encode() * 2000

    with api.client() as client, httpx.Client(base_url=api.base, timeout=30) as anonymous:
        refusals = [
            (client.post("/api/v1/jobs/pipeline/runs", json={"params": {"x": SECRET}}), 422),
            (client.post("/api/v1/jobs/pipeline/runs", content=secret_body), 422),
            (client.post("/api/v1/jobs/pipeline/runs", content=b"{" + SECRET.encode()), 422),
            (client.post("/api/v1/jobs/nothing/runs", json={"params": {"x": SECRET}}), 404),
            (client.post("/api/v1/jobs/long-step/runs", json={"params": {"seconds": 30}, "note": SECRET}), 422),
            (client.post("/api/v1/jobs/pipeline/runs", content=big), 413),
            (client.post("/api/v1/jobs/pipeline/runs", content=secret_chunks()), 413),
            (client.get("/api/v1/runs", params={"status": SECRET}), 422),
            (client.get("/api/v1/runs", params={"cursor": SECRET}), 422),
            (client.get("/api/v1/runs", params={"since": SECRET}), 422),
            (client.get("/api/v1/runs", params={"job": "pipeline", "limit": SECRET}), 422),
            (client.post("/import/fan", params={"n": SECRET}), 400),
            (client.post("/import/fan?n=2", content=b"{" + SECRET.encode()), 400),
            (client.post("/import/fan?n=2", content=big), 413),
            (anonymous.post("/api/v1/jobs/pipeline/runs", json={"params": {"x": SECRET}}), 401),
            (anonymous.post("/import/fan", params={"n": SECRET}, content=secret_body), 401),
            (client.post("/api/v1/runs/00000000-0000-4000-8000-000000000000/cancel", json={"reason": SECRET}), 404),
            (client.get("/api/v1/runs/00000000-0000-4000-8000-000000000000", params={"token": SECRET}), 404),
            (client.put("/api/v1/runs", content=secret_body), 405),
        ]
        expected = [(a.request.method, a.request.url.path, status) for a, status in refusals]
        assert [(a.request.method, a.request.url.path, a.status_code) for a, _ in refusals] == expected

        lines = [f"refused {method} {path} -> {status} " for method, path, status in expected]
        wait_for(lambda: lines[-1] in api.process.output(), 10, what="the last refusal logged")

    log = api.process.output()
    missing = [line for line in lines if line not in log]
    assert not missing, log
    # One line each, in order, and none for anything else.
    logged = [line for line in log.splitlines() if "wrls_actors.api: refused " in line]
    assert len(logged) == len(lines) and all(want in got for want, got in zip(lines, logged, strict=True)), logged
    assert SECRET not in log
    assert SECRET[:12] not in log
    assert not [a for a, _ in refusals if "Traceback" in a.text]
    assert scalar(service, "SELECT count(*) FROM jobs.runs") == 0


def test_no_answer_carries_a_stack_trace_even_when_the_database_is_unreachable(processes, env):
    closed = free_port()
    api = start_api(processes, extra_env={"WRLS_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed}/none"})
    with api.client() as client:
        answers = [
            client.get("/api/v1/runs"),
            client.get("/api/v1/jobs"),
            client.get("/api/v1/schedules"),
            client.get("/api/v1/runs/00000000-0000-4000-8000-000000000000"),
            client.post("/api/v1/jobs/noop/runs", json={}),
            client.post("/jobs/noop"),
        ]

    assert [a.status_code for a in answers] == [503] * len(answers), [a.text for a in answers]
    assert all(a.json().get("error") == "unavailable" for a in answers[:-1])
    assert answers[-1].json() == {
        "statusCode": 503,
        "error": "Service Unavailable",
        "message": "the database is unreachable; try again later",
    }
    assert not [a for a in answers if "Traceback" in a.text]
    assert "refused GET /api/v1/runs -> 503" in api.process.output()


def test_a_caller_cannot_forge_log_lines_through_a_path_or_a_parameter_name(api):
    forged = "2026-01-01 00:00:00,000 ERROR wrls_actors.api: forged"
    with api.client() as client:
        assert client.post(f"/api/v1/jobs/x%0A{forged.replace(' ', '%20')}/runs").status_code == 422
        bad_key = client.post("/api/v1/jobs/pipeline/runs", json={"params": {f"y\n{forged}": 1}})
        assert bad_key.status_code == 422
        wait_for(lambda: api.process.output().count("wrls_actors.api: refused ") >= 2, 10, what="both logged")

    lines = api.process.output().splitlines()
    assert not [line for line in lines if line.startswith(forged)]
    # Both are there, escaped on their own line (a long field name cut short).
    assert sum("\\n2026-01-01 00:00:00,000 ERROR" in line for line in lines if "refused POST" in line) == 2
