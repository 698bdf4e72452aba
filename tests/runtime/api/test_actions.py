"""Operator actions over HTTP (runtime/api/actions.py), against a real `api` process."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.support import services as svc
from tests.support.api import TEST_API_SECRET
from tests.support.helpers import query, wait_run_ended, wait_worker_ready
from wrls_actors.runtime.api.auth import mint


def test_cancel_takes_a_reason_and_records_the_tokens_subject_as_who(api, service):
    run_id = service.trigger("long-step", {"seconds": 30})
    headers = {"Authorization": f"Bearer {mint(TEST_API_SECRET, 'jo.ops@example.gov.uk')}"}

    answer = httpx.post(f"{api.base}/api/v1/runs/{run_id}/cancel", json={"reason": " wrong day "}, headers=headers)

    assert answer.status_code == 200
    assert answer.json() == {"run_id": run_id, "status": "cancelled", "children_cancelled": 0}
    [event] = query(service, "SELECT kind, operator, reason FROM jobs.events WHERE run_id = :r", r=run_id)
    assert tuple(event) == ("run-cancelled", "jo.ops@example.gov.uk", "wrong day")
    with api.client() as client:
        detail = client.get(f"/api/v1/runs/{run_id}").json()
        assert detail["status"] == "cancelled"
        assert [(e["kind"], e["operator"], e["reason"]) for e in detail["events"]] == [
            ("run-cancelled", "jo.ops@example.gov.uk", "wrong day")
        ]
        again = client.post(f"/api/v1/runs/{run_id}/cancel", json={"reason": "again"})
        assert again.status_code == 409
        assert again.json()["message"] == f"run {run_id} is not running: it is cancelled"


def test_cancel_refuses_without_a_reason_or_a_run(api, service):
    run_id = service.trigger("long-step", {"seconds": 30})
    with api.client() as client:
        for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}, {"reason": "ok", "extra": 1}):
            refused = client.post(f"/api/v1/runs/{run_id}/cancel", json=body)
            assert refused.status_code == 422, body
            assert refused.json()["fields"], body
        assert (
            client.post("/api/v1/runs/00000000-0000-4000-8000-000000000000/cancel", json={"reason": "x"}).status_code
            == 404
        )
        assert client.post("/api/v1/runs/nope/cancel", json={"reason": "x"}).status_code == 404
    assert query(service, "SELECT status FROM jobs.runs WHERE run_id = :r", r=run_id)[0].status == "running"
    unauthorised = httpx.post(f"{api.base}/api/v1/runs/{run_id}/cancel", json={"reason": "x"})
    assert unauthorised.status_code == 401


def test_pause_and_resume_a_schedule_and_the_schedules_list_shows_who_and_why(api, service):
    with api.client() as client:
        paused = client.post("/api/v1/schedules/pipeline/pause", json={"reason": "NALD is late"})
        assert paused.status_code == 200
        assert paused.json() == {"schedule": "pipeline", "paused": True, "run_id": None}
        [shown] = [s for s in client.get("/api/v1/schedules").json()["schedules"] if s["name"] == "pipeline"]
        assert (shown["paused"]["operator"], shown["paused"]["reason"]) == ("tests", "NALD is late")
        assert client.post("/api/v1/schedules/pipeline/pause", json={"reason": "again"}).status_code == 409
        assert client.post("/api/v1/schedules/nothing/pause", json={"reason": "x"}).status_code == 404
        assert client.post("/api/v1/schedules/pipeline/resume", json={"reason": ""}).status_code == 422

        resumed = client.post("/api/v1/schedules/pipeline/resume", json={"reason": "it came", "catch_up": False})

        assert resumed.json() == {"schedule": "pipeline", "paused": False, "run_id": None}
        [shown] = [s for s in client.get("/api/v1/schedules").json()["schedules"] if s["name"] == "pipeline"]
        assert shown["paused"] is None
        assert [(a["kind"], a["operator"], a["reason"]) for a in shown["actions"]] == [
            ("schedule-resumed", "tests", "it came"),
            ("schedule-paused", "tests", "NALD is late"),
        ]
        assert client.post("/api/v1/schedules/pipeline/resume", json={"reason": "x"}).status_code == 409
    kinds = [r.kind for r in query(service, "SELECT kind FROM jobs.events ORDER BY id")]
    assert kinds == ["schedule-paused", "schedule-resumed"]


def test_retry_over_http_runs_a_failed_run_again_and_refuses_one_that_did_not_fail(api, service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    with service.engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO test_broken (what) VALUES ('step')")
    run_id = service.trigger("fixable")
    assert wait_run_ended(service, run_id).status == "failed"
    with api.client() as client:
        refused = client.post(f"/api/v1/runs/{run_id}/retry", json={"reason": "x", "failed_children_only": True})
        assert refused.status_code == 409 and "did not fail at a fan-in" in refused.json()["message"]
        with service.engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM test_broken")

        retried = client.post(f"/api/v1/runs/{run_id}/retry", json={"reason": "input fixed"})

        assert retried.status_code == 202
        assert retried.json() == {"run_id": run_id, "status": "running", "children_again": 0}
        assert wait_run_ended(service, run_id).status == "succeeded"
        again = client.post(f"/api/v1/runs/{run_id}/retry", json={"reason": "x"})
        assert again.status_code == 409 and "only a failed run is retried" in again.json()["message"]
        events = client.get(f"/api/v1/runs/{run_id}").json()["events"]
        assert [(e["kind"], e["operator"], e["reason"]) for e in events if e["kind"] == "run-retried"] == [
            ("run-retried", "tests", "input fixed")
        ]


@pytest.mark.schedules("pipeline")
def test_backfill_starts_the_ranges_ticks_that_never_ran_and_refuses_a_bad_range_or_schedule(api, service):
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    since, until = (minute - timedelta(minutes=4)).isoformat(), (minute - timedelta(minutes=1)).isoformat()
    body = {"since": since, "until": until, "reason": "the broker was down"}
    with api.client() as client:
        for bad, field in (
            ({**body, "since": until, "until": since}, "body.range"),
            ({**body, "until": (minute + timedelta(hours=1)).isoformat()}, "body.until"),
            ({**body, "since": "2026-01-01T00:00:00"}, "body.since"),
            ({**body, "since": 1700000000}, "body.since"),
            ({**body, "since": (minute - timedelta(days=100)).isoformat()}, "body.range"),
            ({**body, "reason": " "}, "body.reason"),
            ({**body, "extra": 1}, "body.extra"),
        ):
            refused = client.post("/api/v1/schedules/pipeline/backfill", json=bad)
            assert refused.status_code == 422, bad
            assert [f["field"] for f in refused.json()["fields"]] == [field], refused.text
        assert client.post("/api/v1/schedules/nothing/backfill", json=body).status_code == 404
        assert client.post("/api/v1/schedules/noop/backfill", json=body).status_code == 409  # switched off
        assert query(service, "SELECT * FROM jobs.ticks") == []

        done = client.post("/api/v1/schedules/pipeline/backfill", json=body)

        assert done.status_code == 202, done.text
        [run_id] = done.json()["run_ids"]
        assert done.json() == {
            "schedule": "pipeline",
            "run_ids": [run_id],
            "queued": [(minute - timedelta(minutes=n)).isoformat().replace("+00:00", "Z") for n in (3, 2)],
            "ticks": 3,
        }
        again = client.post("/api/v1/schedules/pipeline/backfill", json=body)
        assert again.json() == {"schedule": "pipeline", "run_ids": [], "queued": [], "ticks": 0}
        [shown] = [s for s in client.get("/api/v1/schedules").json()["schedules"] if s["name"] == "pipeline"]
        assert [(a["kind"], a["operator"], a["reason"]) for a in shown["actions"]] == 2 * [
            ("schedule-backfilled", "tests", "the broker was down")
        ]
        assert {t["outcome"] for t in shown["last_ticks"]} == {"backfilled", "backfill-queued"}
        client.post("/api/v1/schedules/pipeline/pause", json={"reason": "maintenance"})
        paused = client.post("/api/v1/schedules/pipeline/backfill", json=body)
        assert paused.status_code == 409 and "resume it first" in paused.json()["message"]
    [run] = query(service, "SELECT run_id::text, trigger, nominal_time FROM jobs.runs")
    assert (run.run_id, run.trigger, run.nominal_time) == (run_id, "schedule", minute - timedelta(minutes=4))
    assert httpx.post(f"{api.base}/api/v1/schedules/pipeline/backfill", json=body).status_code == 401


def test_dead_letters_are_listed_and_replayed_once_and_workers_shown(api_and_worker, service):
    with service.engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO test_broken (what) VALUES ('step')")
    run_id = service.trigger("fixable")
    assert wait_run_ended(service, run_id).status == "failed"
    with api_and_worker.client() as client:
        listed = svc.wait_for(lambda: client.get("/api/v1/dead-letters").json()["dead_letters"], what="a dead letter")
        [letter] = listed
        assert (letter["queue"], letter["actor"], letter["run_id"], letter["status"]) == (
            "short",
            "fixable.check",
            run_id,
            "failed",
        )
        path = f"/api/v1/dead-letters/{letter['message_id']}/replay"
        assert client.post(path, json={"reason": " "}).status_code == 422
        assert httpx.post(f"{api_and_worker.base}{path}", json={"reason": "x"}).status_code == 401
        assert client.post("/api/v1/dead-letters/nothing-here/replay", json={"reason": "x"}).status_code == 404
        with service.engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM test_broken")

        replayed = client.post(path, json={"reason": "input fixed"})

        assert replayed.status_code == 202, replayed.text
        assert replayed.json() == {
            "message_id": letter["message_id"],
            "queue": "short",
            "actor": "fixable.check",
            "run_id": run_id,
        }
        assert wait_run_ended(service, run_id).status == "succeeded"
        again = client.post(path, json={"reason": "again"})
        assert again.status_code == 409 and "replayed once" in again.json()["message"]
        [event] = query(service, "SELECT operator, reason FROM jobs.events WHERE kind = 'replayed'")
        assert tuple(event) == ("tests", "input fixed")
        assert client.get("/api/v1/dead-letters").json() == {
            "dead_letters": [],
            "depths": {"control": 0, "long": 0, "schedule": 0, "short": 0},
            "truncated": False,
        }

        [worker] = client.get("/api/v1/workers").json()["workers"]
        assert worker["state"] == "alive" and "short" in worker["queues"]
        assert client.get("/api/v1/stalls").json() == {"steps": []}
