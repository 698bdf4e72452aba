"""/api/v1 (runtime/api/v1.py, reads.py, models.py) against a real `api` process, worker, RabbitMQ and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.support.api import TEST_API_SECRET, token
from tests.support.helpers import add_run, query, scalar
from tests.support.services import wait_for
from wrls_actors.runtime.api.auth import mint
from wrls_actors.runtime.api.reads import next_ticks
from wrls_actors.runtime.cron import fire_times
from wrls_actors.runtime.definitions import Schedule

MISSING_RUN = "00000000-0000-4000-8000-000000000000"


def fields_of(answer: httpx.Response) -> list[str]:
    return [f["field"] for f in answer.json()["fields"]]


def run_count(service, job: str | None = None) -> int:
    if job is None:
        return scalar(service, "SELECT count(*) FROM jobs.runs")
    return scalar(service, "SELECT count(*) FROM jobs.runs WHERE job = :j", j=job)


def read_until(client: httpx.Client, location: str, done, what: str) -> dict:
    """GET ``location`` until ``done(detail)``: the run's end and its steps' rows are written apart."""

    def read() -> dict | None:
        answer = client.get(location)
        assert answer.status_code == 200, answer.text
        detail = answer.json()
        return detail if done(detail) else None

    return wait_for(read, 40, interval_s=0.2, what=what)


# -- POST /api/v1/jobs/{job}/runs ---------------------------------------------------------------------------------


def test_a_started_run_answers_202_with_its_location_and_runs_to_the_end_on_the_worker(api_and_worker, service):
    with api_and_worker.client() as client:
        answer = client.post("/api/v1/jobs/pipeline/runs", json={"params": {"x": 7}})

        assert answer.status_code == 202
        started = answer.json()
        run_id = started["run_id"]
        assert started == {"run_id": run_id, "job": "pipeline", "location": f"/api/v1/runs/{run_id}"}
        assert answer.headers["Location"] == f"/api/v1/runs/{run_id}"
        # A step's row is first settled by the decision it led to (succeeded, no duration yet); the ledger
        # writer's own event, a flush later, adds its duration: waited for too.
        detail = read_until(
            client,
            answer.headers["Location"],
            lambda d: (
                d["status"] != "running"
                and all(s["status"] != "running" and s["duration_ms"] is not None for s in d["steps"])
            ),
            "the run and its steps to end, with their durations",
        )

    assert detail["status"] == "succeeded"
    assert (detail["job"], detail["trigger"], detail["params"]) == ("pipeline", "http", {"x": 7})
    assert detail["counts"] == {"records": 3}
    assert detail["finished_at"] is not None and detail["duration_s"] >= 0
    assert [(s["name"], s["actor"], s["status"], s["attempt"]) for s in detail["steps"]] == [
        ("first", "pipeline.first", "succeeded", 1),
        ("second", "pipeline.second", "succeeded", 1),
        ("third", "pipeline.third", "succeeded", 1),
    ]
    for step in detail["steps"]:
        # enqueued_at is written once the broker confirmed the publish: a worker may have started it by then.
        assert step["enqueued_at"] is not None, step
        began, ended = (datetime.fromisoformat(step[k]) for k in ("started_at", "finished_at"))
        assert began <= ended, step
        assert step["duration_ms"] >= 0 and step["error"] is None and step["fan_out"] is None
    # A step publishes the next before its own end is recorded: the starts alone are in order.
    starts = [datetime.fromisoformat(s["started_at"]) for s in detail["steps"]]
    assert starts == sorted(starts)
    assert scalar(service, "SELECT trigger FROM jobs.runs WHERE run_id = :r", r=run_id) == "http"


def test_a_running_job_is_409_with_the_running_runs_id_and_force_starts_a_second(api, service):
    # No worker: the first run stays running, as a long step would keep it.
    with api.client() as client:
        first = client.post("/api/v1/jobs/long-step/runs", json={"params": {"seconds": 30}})
        assert first.status_code == 202
        run_id = first.json()["run_id"]

        refused = client.post("/api/v1/jobs/long-step/runs", json={"params": {"seconds": 30}})

        assert refused.status_code == 409
        assert refused.json()["error"] == "conflict"
        assert refused.json()["run_id"] == run_id
        assert run_id in refused.json()["message"]
        assert run_count(service, "long-step") == 1

        forced = client.post("/api/v1/jobs/long-step/runs", json={"params": {"seconds": 30}, "force": True})

        assert forced.status_code == 202
        assert forced.json()["run_id"] != run_id
    running = query(service, "SELECT run_id::text FROM jobs.runs WHERE job = 'long-step' AND status = 'running'")
    assert sorted(r.run_id for r in running) == sorted([run_id, forced.json()["run_id"]])


def test_a_start_records_the_tokens_subject_and_the_reason_given_on_the_run(api, service):
    headers = {"Authorization": f"Bearer {mint(TEST_API_SECRET, 'jo.ops@example.gov.uk')}"}
    with httpx.Client(base_url=api.base, headers=headers) as client:
        for reason in ("", "   ", "x" * 501, 7):
            refused = client.post("/api/v1/jobs/pipeline/runs", json={"reason": reason})
            assert refused.status_code == 422 and fields_of(refused) == ["body.reason"], reason
        assert run_count(service) == 0
        told = client.post("/api/v1/jobs/pipeline/runs", json={"reason": " billing asked "}).json()["run_id"]
        untold = client.post("/api/v1/jobs/noop/runs").json()["run_id"]

        events = client.get(f"/api/v1/runs/{told}").json()["events"]

    assert [(e["kind"], e["operator"], e["reason"]) for e in events] == [
        ("run-triggered", "jo.ops@example.gov.uk", "billing asked")
    ]
    [event] = query(service, "SELECT operator, reason FROM jobs.events WHERE run_id = :r", r=untold)
    assert (event.operator, event.reason) == ("jo.ops@example.gov.uk", None)


@pytest.mark.parametrize(
    ("job", "body", "field"),
    [
        ("pipeline", {"params": {"x": "seven"}}, "params.x"),
        ("pipeline", {"params": {"y": 1}}, "params.y"),
        ("fan", {"params": {"fail": ["one"]}}, "params.fail"),
        ("long-step", {"params": {"seconds": "long"}}, "params.seconds"),
    ],
)
def test_a_bad_parameter_is_422_naming_it_and_starts_nothing(api, service, job, body, field):
    with api.client() as client:
        answer = client.post(f"/api/v1/jobs/{job}/runs", json=body)

    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid"
    assert fields_of(answer) == [field]
    assert run_count(service) == 0


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"{not json", "body.1"),
        (b'{"params": {"x": 1}', "body.19"),
        (b"[]", "body"),
        (b'"params"', "body"),
        (b'{"params": []}', "body.params"),
        (b'{"params": {}, "force": "maybe"}', "body.force"),
        (b'{"params": {}, "extra": 1}', "body.extra"),
    ],
)
def test_bad_json_or_a_body_of_the_wrong_shape_is_422_naming_the_field(api, service, content, field):
    with api.client() as client:
        answer = client.post(
            "/api/v1/jobs/pipeline/runs", content=content, headers={"Content-Type": "application/json"}
        )

    assert answer.status_code == 422, answer.text
    assert fields_of(answer) == [field]
    assert run_count(service) == 0


def test_no_body_at_all_starts_the_job_with_its_defaults(api, service):
    with api.client() as client:
        answer = client.post("/api/v1/jobs/fan/runs")

    assert answer.status_code == 202
    assert query(service, "SELECT params FROM jobs.runs WHERE run_id = :r", r=answer.json()["run_id"])[0].params == {
        "n": 5
    }


def test_an_unknown_job_and_a_scheduled_job_with_no_steps_are_404(api, service):
    with api.client() as client:
        unknown = client.post("/api/v1/jobs/no-such-job/runs", json={})
        unbuilt = client.post("/api/v1/jobs/unbuilt/runs", json={})

    assert unknown.status_code == 404 and unknown.json()["error"] == "not-found"
    assert "unknown job 'no-such-job'" in unknown.json()["message"]
    assert unbuilt.status_code == 404 and unbuilt.json()["error"] == "not-found"
    assert "'unbuilt' has no steps yet" in unbuilt.json()["message"]
    assert run_count(service) == 0


# -- Idempotency-Key ------------------------------------------------------------------------------------------------


def test_the_same_idempotency_key_gives_the_same_run_and_a_key_used_for_another_job_is_409(api, service):
    with api.client() as client:
        first = client.post("/api/v1/jobs/pipeline/runs", json={}, headers={"Idempotency-Key": "k-2026-12-05"})
        again = client.post("/api/v1/jobs/pipeline/runs", json={}, headers={"Idempotency-Key": "k-2026-12-05"})
        other_job = client.post("/api/v1/jobs/noop/runs", json={}, headers={"Idempotency-Key": "k-2026-12-05"})
        # A new key is a new start: refused while the first run is running.
        other_key = client.post("/api/v1/jobs/pipeline/runs", json={}, headers={"Idempotency-Key": "k-other"})

    assert first.status_code == 202
    run_id = first.json()["run_id"]
    assert again.status_code == 202 and again.json()["run_id"] == run_id
    assert again.headers["Location"] == f"/api/v1/runs/{run_id}"
    assert other_job.status_code == 409
    assert other_job.json()["run_id"] == run_id
    assert "k-2026-12-05" in other_job.json()["message"]
    assert other_key.status_code == 409 and other_key.json()["run_id"] == run_id
    assert run_count(service) == 1


def test_200_concurrent_posts_with_50_keys_start_exactly_50_runs_one_per_key(api, service):
    keys = [f"burst-{i:02d}" for i in range(50)]
    calls = [keys[i % 50] for i in range(200)]
    headers = {"Authorization": f"Bearer {token()}"}
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)

    with httpx.Client(base_url=api.base, headers=headers, timeout=60, limits=limits) as client:

        def post(key: str) -> tuple[str, int, str | None]:
            answer = client.post("/api/v1/jobs/noop/runs", json={"force": True}, headers={"Idempotency-Key": key})
            return key, answer.status_code, answer.json().get("run_id")

        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(post, calls))

    assert Counter(status for _, status, _ in answers) == {202: 200}
    runs_by_key: dict[str, set[str]] = {}
    for key, _, run_id in answers:
        runs_by_key.setdefault(key, set()).add(run_id)
    assert len(runs_by_key) == 50 and all(len(ids) == 1 for ids in runs_by_key.values()), runs_by_key
    assert run_count(service) == 50
    ledger = {r.trigger_key: r.run_id for r in query(service, "SELECT trigger_key, run_id::text FROM jobs.runs")}
    assert ledger == {key: ids.pop() for key, ids in runs_by_key.items()}


# -- GET /api/v1/runs -----------------------------------------------------------------------------------------------


def ids_of(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [r["run_id"] for r in answer.json()["runs"]]


def test_runs_are_listed_newest_first_and_filtered_by_job_status_trigger_since_and_until(api, service):
    # Started at known times: an hour apart, the newest now.
    old = add_run(service, "pipeline", status="succeeded", started="now() - interval '3 hours'")
    failed = add_run(service, "fail-fast", status="failed", started="now() - interval '2 hours'")
    middle = add_run(service, "pipeline", status="failed", started="now() - interval '1 hour'")
    by_http = service.trigger("noop", trigger="http")
    by_cli = service.trigger("pipeline")
    newest_first = [by_cli, by_http, middle, failed, old]
    now = datetime.now(UTC)

    def at(hours: float) -> str:
        return (now - timedelta(hours=hours)).isoformat()

    with api.client() as client:
        assert ids_of(client.get("/api/v1/runs")) == newest_first
        assert ids_of(client.get("/api/v1/runs", params={"job": "pipeline"})) == [by_cli, middle, old]
        assert ids_of(client.get("/api/v1/runs", params={"status": "failed"})) == [middle, failed]
        assert ids_of(client.get("/api/v1/runs", params={"status": "running"})) == [by_cli, by_http]
        assert ids_of(client.get("/api/v1/runs", params={"trigger": "http"})) == [by_http]
        assert ids_of(client.get("/api/v1/runs", params={"trigger": "cli"})) == [by_cli, middle, failed, old]
        assert ids_of(client.get("/api/v1/runs", params={"since": at(1.5)})) == [by_cli, by_http, middle]
        assert ids_of(client.get("/api/v1/runs", params={"until": at(1.5)})) == [failed, old]
        assert ids_of(client.get("/api/v1/runs", params={"since": at(2.5), "until": at(0.5)})) == [middle, failed]
        # A time zone other than UTC is the same moment.
        in_paris = (now - timedelta(hours=1.5)).astimezone(timezone(timedelta(hours=1))).isoformat()
        assert ids_of(client.get("/api/v1/runs", params={"since": in_paris})) == [by_cli, by_http, middle]
        both = client.get("/api/v1/runs", params={"job": "pipeline", "status": "failed", "trigger": "cli"})
        assert ids_of(both) == [middle]
        assert ids_of(client.get("/api/v1/runs", params={"job": "nothing"})) == []
        [summary] = client.get("/api/v1/runs", params={"job": "noop"}).json()["runs"]
    assert (summary["job"], summary["trigger"], summary["status"]) == ("noop", "http", "running")


def test_paging_walks_every_run_exactly_once_while_runs_start_between_pages(api, service):
    # Ten runs sharing one start time, and ten more: the run id breaks the ties in the keyset.
    existing = [add_run(service, "pipeline", started="'2026-06-01T10:00:00Z'") for _ in range(10)]
    existing += [add_run(service, "noop", started=f"now() - interval '{i} minutes'") for i in range(1, 11)]
    seen: list[str] = []
    pages = 0
    started_meanwhile = []
    with api.client() as client:
        cursor = None
        while True:
            answer = client.get("/api/v1/runs", params={"limit": 3, **({"cursor": cursor} if cursor else {})})
            page = answer.json()
            seen += ids_of(answer)
            pages += 1
            started_meanwhile.append(service.trigger("fan", force=True))
            cursor = page["next_cursor"]
            if cursor is None:
                break

    assert pages == 7  # 20 runs, 3 a page
    assert len(seen) == len(set(seen)) == 20
    assert set(seen) == set(existing)
    assert not set(seen) & set(started_meanwhile)
    # Newest first, the ties in the order of their ids, as the cursor compares them.
    assert seen[:10] == existing[10:]
    assert seen[10:] == sorted(existing[:10], reverse=True)


@pytest.mark.parametrize(
    ("query_", "field"),
    [
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"cursor": "MjAyNi0wNi0wMVQxMDowMDowMHxub3QtYS11dWlk"}, "query.cursor"),  # "2026-06-01T10:00:00|not-a-uuid"
        ({"since": "2026-01-01T08:00:00"}, "query.since"),
        ({"until": "2026-01-01T08:00:00"}, "query.until"),
        ({"since": "yesterday"}, "query.since"),
        ({"status": "done"}, "query.status"),
        ({"trigger": "jenkins"}, "query.trigger"),
        ({"limit": "0"}, "query.limit"),
        ({"limit": "501"}, "query.limit"),
    ],
)
def test_a_bad_cursor_filter_or_a_time_without_a_zone_is_422_naming_the_field(api, query_, field):
    with api.client() as client:
        answer = client.get("/api/v1/runs", params=query_)

    assert answer.status_code == 422, answer.text
    assert fields_of(answer) == [field]


# -- GET /api/v1/runs/{id} ------------------------------------------------------------------------------------------


def test_a_failed_run_shows_each_step_with_attempts_and_the_error_of_the_broken_one(api_and_worker, service):
    run_id = service.trigger("fail-fast")
    with api_and_worker.client() as client:
        detail = read_until(
            client,
            f"/api/v1/runs/{run_id}",
            lambda d: d["status"] != "running" and d["steps"][1]["status"] == "failed",
            "fail-fast to fail",
        )

    assert detail["status"] == "failed"
    assert "fail-fast.broken" in detail["error"] and "boom" in detail["error"]
    first, broken, never = detail["steps"]
    assert (first["name"], first["status"], first["attempt"], first["error"]) == ("first", "succeeded", 1, None)
    # max_retries=1: tried twice.
    assert (broken["name"], broken["status"], broken["attempt"]) == ("broken", "failed", 2)
    assert "boom: this step always fails" in broken["error"]
    assert broken["started_at"] is not None and broken["finished_at"] is not None
    assert never == {
        **never,
        "name": "never",
        "status": "not-started",
        "attempt": None,
        "started_at": None,
        "finished_at": None,
        "error": None,
    }
    kinds = [e["kind"] for e in detail["events"]]
    assert "retrying" in kinds and "run-failed" in kinds
    assert all(e["at"] and e["actor"] == "fail-fast.broken" for e in detail["events"] if e["kind"] == "retrying")


def test_a_fan_out_shows_expected_arrived_and_failed_children_and_names_the_failed_position(api_and_worker, service):
    run_id = service.trigger("fan", {"n": 4, "fail": [1]})
    with api_and_worker.client() as client:
        detail = read_until(
            client,
            f"/api/v1/runs/{run_id}",
            lambda d: d["status"] != "running" and d["steps"][-1]["status"] == "succeeded",
            "the fan-out to end",
        )

    assert detail["status"] == "completed-with-failures"
    assert detail["children_failed"] == 1
    prepare, finish = detail["steps"]
    fan_out = prepare["fan_out"]
    assert (fan_out["step"], fan_out["expected"], fan_out["arrived"], fan_out["failed"]) == ("each", 4, 4, 1)
    assert fan_out["counts"]["children_ok"] == 3
    assert fan_out["fired_at"] is not None
    [failure] = fan_out["failures"]
    assert failure["position"] == 1
    assert "item 1 is bad" in failure["error"]
    assert finish["fan_out"] is None and finish["status"] == "succeeded"


def test_an_unknown_or_non_uuid_run_id_is_404(api):
    with api.client() as client:
        for run_id in (MISSING_RUN, "nope", "1234", "00000000-0000-4000-8000-00000000000g"):
            answer = client.get(f"/api/v1/runs/{run_id}")
            assert answer.status_code == 404, run_id
            assert answer.json()["error"] == "not-found"


# -- GET /api/v1/jobs and /api/v1/schedules -------------------------------------------------------------------------


@pytest.mark.schedules("pipeline")
def test_jobs_show_steps_params_schedule_last_run_and_the_next_tick_of_an_enabled_schedule(api, service):
    first = add_run(service, "pipeline", status="succeeded", started="now() - interval '1 hour'")
    last = add_run(service, "pipeline", status="failed", started="now() - interval '1 minute'")
    before = datetime.now(UTC)
    with api.client() as client:
        jobs = {j["name"]: j for j in client.get("/api/v1/jobs").json()["jobs"]}
    after = datetime.now(UTC)

    assert set(jobs) == set(service.jobs)
    pipeline = jobs["pipeline"]
    assert [(s["name"], s["queue"], s["fan_out"]) for s in pipeline["steps"]] == [
        ("first", "short", None),
        ("second", "short", None),
        ("third", "short", None),
    ]
    assert [(p["name"], p["type"], p["required"]) for p in pipeline["params"]] == [("x", "integer", False)]
    assert pipeline["schedule"] == "* * * * *"
    next_tick = datetime.fromisoformat(pipeline["next_tick"])
    assert before < next_tick <= after + timedelta(minutes=1)
    assert next_tick.second == 0 and next_tick.microsecond == 0
    assert (pipeline["last_run"]["run_id"], pipeline["last_run"]["status"]) == (last, "failed")
    assert first != last
    # Scheduled but not enabled here; never scheduled; a fan-out.
    assert (jobs["noop"]["schedule"], jobs["noop"]["next_tick"]) == ("off", None)
    assert (jobs["fail-fast"]["schedule"], jobs["fail-fast"]["next_tick"], jobs["fail-fast"]["last_run"]) == (
        None,
        None,
        None,
    )
    assert [(s["name"], s["fan_out"]) for s in jobs["fan"]["steps"]] == [("prepare", "each"), ("finish", None)]
    assert [(p["name"], p["default"]) for p in jobs["fan"]["params"]] == [("n", 5), ("fail", None)]
    assert [s["max_retries"] for s in jobs["fail-fast"]["steps"]] == [3, 1, 3]


@pytest.mark.schedules("noop")
def test_schedules_show_cron_zone_policies_the_last_ticks_with_outcomes_and_the_next_ticks(
    api_and_worker, service, processes
):
    api = api_and_worker
    processes("scheduler")
    wait_for(
        lambda: scalar(service, "SELECT count(*) FROM jobs.ticks WHERE schedule = 'noop'"),
        40,
        what="a tick of noop",
    )
    before = datetime.now(UTC)
    with api.client() as client:
        schedules = {s["name"]: s for s in client.get("/api/v1/schedules").json()["schedules"]}

    assert set(schedules) == set(service.schedules)
    noop = schedules["noop"]
    assert (noop["job"], noop["cron"], noop["every_s"], noop["timezone"]) == ("noop", None, 15.0, "Europe/London")
    assert (noop["overlap"], noop["catch_up"], noop["enabled"], noop["paused"]) == ("skip", "none", True, None)
    assert noop["title"] == "No-op every 15 s"
    ticks = noop["last_ticks"]
    assert ticks and ticks == sorted(ticks, key=lambda t: t["nominal_time"], reverse=True)
    ledger = {
        r.nominal_time: (r.outcome, r.run_id)
        for r in query(service, "SELECT nominal_time, outcome, run_id::text FROM jobs.ticks WHERE schedule = 'noop'")
    }
    assert {datetime.fromisoformat(t["nominal_time"]): (t["outcome"], t["run_id"]) for t in ticks} == ledger
    oldest = ticks[-1]
    assert query(service, "SELECT job, trigger FROM jobs.runs WHERE run_id = :r", r=oldest["run_id"])[0] == (
        "noop",
        "schedule",
    )
    upcoming = [datetime.fromisoformat(t) for t in noop["next_ticks"]]
    assert len(upcoming) == 5
    assert upcoming == sorted(upcoming) and before < upcoming[0]
    assert all(b - a == timedelta(seconds=15) for a, b in zip(upcoming, upcoming[1:], strict=False))
    pipeline = schedules["pipeline"]
    assert (pipeline["cron"], pipeline["every_s"], pipeline["enabled"]) == ("* * * * *", None, False)
    assert (pipeline["last_ticks"], pipeline["next_ticks"]) == ([], [])


@pytest.mark.parametrize(
    "schedule",
    [
        Schedule("daily", cron="15 1 * * *"),
        Schedule("weekdays", cron="0 10 * * 1-5"),
        Schedule("monthly", cron="0 0 1 * *"),
        Schedule("often", every=timedelta(seconds=15)),
    ],
    ids=lambda s: s.job,
)
def test_the_next_ticks_are_the_first_fire_times_after_now_across_a_clock_change(schedule):
    tz = ZoneInfo("Europe/London")
    now = datetime(2026, 3, 27, 12, 0, 30, tzinfo=UTC)  # clocks go forward on the 29th

    expected = fire_times(schedule, now, now + timedelta(days=400), tz)[:5]
    assert len(expected) == 5
    assert next_ticks(schedule, tz, now, 5) == expected
