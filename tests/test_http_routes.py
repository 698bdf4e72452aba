"""WRLS's legacy HTTP routes, called the way their legacy callers called them, against a real `api`
process of the WRLS app, RabbitMQ and PostgreSQL. Status and body are checked byte for byte."""

from __future__ import annotations

import httpx
import pytest

from tests.support import services as svc
from tests.support.api import start_api, token
from tests.support.helpers import query
from tests.support.processes import WRLS_APP
from wrls_actors.jobs import JOBS

JSON = "application/json; charset=utf-8"
JOBS_BY_NAME = {job.name: job for job in JOBS}

# (method, path, query, JSON body, job, params, status, body): the legacy import.md §7 and system.md §0.
LEGACY = [
    ("POST", "/jobs/time-limited", None, None, "time-limited", {}, 204, b""),
    ("POST", "/jobs/licence-updates", None, None, "licence-updates", {}, 204, b""),
    ("POST", "/jobs/clean", None, None, "clean", {"force": False}, 204, b""),
    ("POST", "/jobs/session-cleanup", None, None, "clean", {"force": False}, 204, b""),
    ("POST", "/jobs/export", None, None, "export", {}, 204, b""),
    ("GET", "/jobs/export", None, None, "export", {}, 204, b""),
    ("POST", "/import/1.0/nald/licences", None, None, "nald-import", {"force": False}, 202, b""),
    (
        "POST",
        "/import/1.0/nald/licence",
        None,
        {"licenceNumber": "03/28/61/0032"},
        "nald-import-licence",
        {"licence": "03/28/61/0032"},
        202,
        b"",
    ),
    ("POST", "/import/licences", None, None, "licence-import", {"force": False}, 202, b""),
    (
        "POST",
        "/import/licence",
        {"licenceNumber": "03/28/61/0032"},
        None,
        "licence-import-licence",
        {"licence": "03/28/61/0032"},
        202,
        b"",
    ),
    (
        "POST",
        "/import/company",
        {"regionCode": "1", "partyId": "123"},
        None,
        "licence-import-company",
        {"party": "1:123"},
        202,
        b"",
    ),
    ("POST", "/import/charging-data", None, None, "charging-import-data", {}, 204, b""),
    ("POST", "/import/charge-versions", None, None, "charging-import-versions", {"force": False}, 204, b""),
    ("POST", "/import/1.0/bill-runs", None, None, "bill-runs-import", {}, 200, b'{"error":null}'),
]


@pytest.fixture
def wrls_api(processes):
    return start_api(processes, app=WRLS_APP)


def call(api, method, path, params=None, body=None, authenticated=True):
    headers = {"Authorization": f"Bearer {token()}"} if authenticated else {}
    return httpx.request(method, api.base + path, params=params, json=body, headers=headers, timeout=30)


def runs_of(service, job):
    return query(service, "SELECT run_id::text, trigger, status, params FROM jobs.runs WHERE job = :j", j=job)


@pytest.mark.parametrize(
    "method,path,params,body,job,expected_params,status,answer", LEGACY, ids=[f"{r[0]} {r[1]}" for r in LEGACY]
)
def test_each_legacy_route_answers_as_the_legacy_did_and_starts_its_job(
    wrls_api, service, vhost, method, path, params, body, job, expected_params, status, answer
):
    response = call(wrls_api, method, path, params, body)

    assert (response.status_code, response.content) == (status, answer)
    if answer:
        assert response.headers["content-type"] == JSON
    [run] = runs_of(service, job)
    assert (run.trigger, run.status, run.params) == ("http", "running", expected_params)
    assert response.headers["location"] == f"/api/v1/runs/{run.run_id}"
    # Started as a message would start it: the first step waits in its queue for a worker.
    first_queue = JOBS_BY_NAME[job].queue_of(JOBS_BY_NAME[job].steps[0])
    svc.wait_for(lambda: svc.queue_stats(vhost, first_queue).get("messages", 0) == 1, 20, what=f"{first_queue}")


def test_a_job_already_running_is_not_started_again_and_nothing_queued_is_deleted(wrls_api, service, vhost):
    assert call(wrls_api, "POST", "/jobs/time-limited").status_code == 204
    [first] = runs_of(service, "time-limited")

    again = call(wrls_api, "POST", "/jobs/time-limited")

    assert again.status_code == 409
    assert again.json() == {
        "statusCode": 409,
        "error": "Conflict",
        "message": f"time-limited is already running (run {first.run_id}); it was not started again",
    }
    assert again.headers["location"] == f"/api/v1/runs/{first.run_id}"
    assert runs_of(service, "time-limited") == [first]
    # The legacy deleted the queue before publishing; here the first run's message is still there.
    queue = JOBS_BY_NAME["time-limited"].queue_of(JOBS_BY_NAME["time-limited"].steps[0])
    svc.wait_for(lambda: svc.queue_stats(vhost, queue).get("messages", 0) == 1, 20, what="the first run's message")


def test_routes_taking_several_runs_at_once_start_another_each_time(wrls_api, service):
    for _ in range(2):
        assert call(wrls_api, "POST", "/import/licence", {"licenceNumber": "1/2/3"}).status_code == 202
    assert len(runs_of(service, "licence-import-licence")) == 2


@pytest.mark.parametrize(
    "path,params,body,field",
    [
        ("/import/licence", None, None, "query.licenceNumber"),
        ("/import/licence", {"licenceNumber": " "}, None, "query.licenceNumber"),
        ("/import/company", {"regionCode": "9", "partyId": "1"}, None, "query.regionCode"),
        ("/import/company", {"regionCode": "1", "partyId": "-1"}, None, "query.partyId"),
        ("/import/company", {"regionCode": "x", "partyId": "1"}, None, "query.regionCode"),
        ("/import/1.0/nald/licence", None, {"licence": "1/2"}, "body.licenceNumber"),
        ("/import/1.0/nald/licence", None, None, "body.licenceNumber"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_in_the_legacy_error_shape(wrls_api, service, path, params, body, field):
    response = call(wrls_api, "POST", path, params, body)

    assert response.status_code == 400
    answer = response.json()
    assert set(answer) == {"statusCode", "error", "message"}
    assert (answer["statusCode"], answer["error"]) == (400, "Bad Request")
    assert answer["message"].startswith(field)
    assert query(service, "SELECT count(*) AS n FROM jobs.runs")[0].n == 0


def test_a_body_that_is_not_json_is_a_400(wrls_api):
    response = httpx.post(
        wrls_api.base + "/import/1.0/nald/licence",
        content=b"{licenceNumber:",
        headers={"Authorization": f"Bearer {token()}", "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["message"]) == (400, "the body is not valid JSON")


def test_the_hapi_form_body_is_taken_too(wrls_api, service):
    response = httpx.post(
        wrls_api.base + "/import/1.0/nald/licence",
        data={"licenceNumber": "6/33/01/*G/0001"},
        headers={"Authorization": f"Bearer {token()}"},
    )
    assert response.status_code == 202
    assert [r.params for r in runs_of(service, "nald-import-licence")] == [{"licence": "6/33/01/*G/0001"}]


@pytest.mark.parametrize("path", ["/jobs/time-limited", "/import/licences"])
def test_every_legacy_route_needs_a_token_by_default(wrls_api, service, path):
    response = call(wrls_api, "POST", path, authenticated=False)

    assert response.status_code == 401
    assert response.json()["statusCode"] == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert query(service, "SELECT count(*) AS n FROM jobs.runs")[0].n == 0


def test_the_open_setting_opens_the_system_apps_routes_only_and_says_so_at_start(processes, service):
    api = start_api(processes, app=WRLS_APP, extra_env={"WRLS_API_OPEN_JOB_ROUTES": "true"})

    assert call(api, "POST", "/jobs/time-limited", authenticated=False).status_code == 204
    assert call(api, "GET", "/jobs/export", authenticated=False).status_code == 204
    assert call(api, "POST", "/import/licences", authenticated=False).status_code == 401
    assert httpx.get(api.base + "/api/v1/runs", timeout=10).status_code == 401
    assert "WRLS_API_OPEN_JOB_ROUTES is true" in api.process.output()
