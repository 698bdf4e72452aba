"""/healthz and /readyz (runtime/api/health.py) against real `api` processes: one beside the real RabbitMQ and
PostgreSQL, others pointed at a closed port for one of them (the real services keep running)."""

from __future__ import annotations

import httpx

from tests.support.api import start_api
from tests.support.helpers import free_port, query


def get(api, path: str) -> httpx.Response:
    return httpx.get(f"{api.base}{path}", timeout=30)


def test_ready_when_the_database_and_the_broker_answer(api):
    ready = get(api, "/readyz")
    alive = get(api, "/healthz")

    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
    assert alive.status_code == 200
    assert alive.json() == {"status": "ok", "checks": {}}


def test_not_ready_naming_the_broker_when_it_does_not_answer_and_a_start_is_503_naming_it(processes, service):
    api = start_api(processes, extra_env={"WRLS_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"})

    ready = get(api, "/readyz")

    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("unreachable (")
    # Alive all the same: restarting the process would not bring the broker back.
    assert get(api, "/healthz").status_code == 200
    with api.client() as client:
        start = client.post("/api/v1/jobs/noop/runs", json={})
    assert start.status_code == 503
    assert start.json()["error"] == "unavailable" and "broker" in start.json()["message"]
    assert "Traceback" not in start.text
    # The start that could not be published is not left running for ever.
    [run] = query(service, "SELECT status, error FROM jobs.runs WHERE job = 'noop'")
    assert run.status == "failed" and "could not publish the first step" in run.error


def test_not_ready_naming_the_database_when_it_does_not_answer(processes):
    api = start_api(processes, extra_env={"WRLS_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x"})

    ready = get(api, "/readyz")

    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"] == "ok"
    assert body["checks"]["database"].startswith("unreachable (")
    assert get(api, "/healthz").status_code == 200
