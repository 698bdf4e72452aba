"""An application's own trigger routes (runtime/api/trigger_route.py, served by app.py) against a real `api`
process: the sample app declares POST /jobs/noop (204, open-able) and POST /import/fan?n= (202, params from
the query), as WRLS declares the legacy apps' routes."""

from __future__ import annotations

import httpx

from tests.support.api import start_api
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready

RUN_LOCATION = "/api/v1/runs/{}"


def runs(service) -> list[tuple[str, str, str, dict]]:
    return [
        (r.run_id, r.job, r.trigger, r.params)
        for r in query(service, "SELECT run_id::text, job, trigger, params FROM jobs.runs ORDER BY started_at")
    ]


def test_a_204_route_answers_with_no_body_at_all_and_the_location_of_the_run_it_started(api, service):
    with api.client() as client:
        answer = client.post("/jobs/noop")

    assert answer.status_code == 204
    assert answer.content == b""
    assert "content-type" not in answer.headers
    [(run_id, job, trigger, params)] = runs(service)
    assert (job, trigger, params) == ("noop", "http", {})
    assert answer.headers["Location"] == RUN_LOCATION.format(run_id)


def test_a_202_route_takes_its_params_from_the_query_and_the_run_goes_to_the_end(api, service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    with api.client() as client:
        answer = client.post("/import/fan", params={"n": "3"})

    assert answer.status_code == 202
    assert answer.content == b""
    [(run_id, job, trigger, params)] = runs(service)
    assert (job, trigger, params) == ("fan", "http", {"n": 3})
    assert answer.headers["Location"] == RUN_LOCATION.format(run_id)
    assert wait_run_ended(service, run_id).status == "succeeded"
    assert scalar(service, "SELECT count(*) FROM test_effects WHERE run_id = :r AND step = 'each'", r=run_id) == 3


def test_a_value_the_route_cannot_take_is_400_in_the_legacy_error_shape_naming_the_field(api, service):
    with api.client() as client:
        for query_ in ({"n": "many"}, {"n": "-1"}, {}):
            answer = client.post("/import/fan", params=query_)

            assert answer.status_code == 400, query_
            assert answer.content == (
                b'{"statusCode":400,"error":"Bad Request","message":"query.n must be a whole number"}'
            ), query_
            assert answer.headers["content-type"] == "application/json"
        bad_json = client.post("/import/fan?n=2", content=b"{", headers={"Content-Type": "application/json"})

    assert bad_json.status_code == 400
    assert bad_json.json() == {"statusCode": 400, "error": "Bad Request", "message": "the body is not valid JSON"}
    assert runs(service) == []


def test_a_job_already_running_is_409_in_the_legacy_error_shape_naming_the_run_and_nothing_is_started(api, service):
    # No worker: the first run stays running.
    with api.client() as client:
        first = client.post("/jobs/noop")
        again = client.post("/jobs/noop")

    run_id = first.headers["Location"].rsplit("/", 1)[1]
    assert again.status_code == 409
    assert again.content == (
        b'{"statusCode":409,"error":"Conflict","message":"noop is already running (run '
        + run_id.encode()
        + b'); it was not started again"}'
    )
    assert again.headers["Location"] == RUN_LOCATION.format(run_id)
    assert [r[0] for r in runs(service)] == [run_id]


def test_without_a_token_both_routes_are_401_in_the_legacy_shape_by_default(api, service):
    for path in ("/jobs/noop", "/import/fan?n=2"):
        answer = httpx.post(f"{api.base}{path}")

        assert answer.status_code == 401, path
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert answer.json() == {
            "statusCode": 401,
            "error": "Unauthorized",
            "message": "missing bearer token (Authorization: Bearer <JWT>)",
        }
    assert "API_OPEN_JOB_ROUTES" not in api.process.output()
    assert runs(service) == []


def test_open_job_routes_answer_the_openable_route_without_a_token_keep_the_other_closed_and_warn_at_start(
    processes, service
):
    api = start_api(processes, extra_env={"WRLS_API_OPEN_JOB_ROUTES": "true"})

    opened = httpx.post(f"{api.base}/jobs/noop")
    closed = httpx.post(f"{api.base}/import/fan?n=2")
    v1 = httpx.post(f"{api.base}/api/v1/jobs/noop/runs", json={"force": True})

    assert opened.status_code == 204 and opened.content == b""
    assert closed.status_code == 401 and closed.json()["statusCode"] == 401
    assert v1.status_code == 401
    [(run_id, job, trigger, _)] = runs(service)
    assert (job, trigger) == ("noop", "http")
    assert opened.headers["Location"] == RUN_LOCATION.format(run_id)
    [warning] = [line for line in api.process.output().splitlines() if "API_OPEN_JOB_ROUTES" in line]
    assert " WARNING " in warning
    assert "WRLS_API_OPEN_JOB_ROUTES is true" in warning and "without a token" in warning
    # With a token, the closed route works as before.
    with api.client() as client:
        assert client.post("/import/fan?n=2").status_code == 202
