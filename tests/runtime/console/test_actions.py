"""The console's actions (runtime/console/actions.py): CSRF, roles, reasons, and the ledger's record of each."""

import re

import httpx
import pytest

from tests.support.console import OPERATOR, csrf_of, signed_in
from tests.support.helpers import query


def test_an_operator_cancels_a_run_with_a_reason_and_the_run_page_shows_who_and_why(operator, service):
    run_id = service.trigger("long-step", {"seconds": 30})

    answer = operator.post(f"/runs/{run_id}/cancel", data={"csrf": operator.csrf, "reason": "wrong day"})

    assert answer.status_code == 303 and answer.headers["location"] == f"/runs/{run_id}"
    [event] = query(service, "SELECT kind, operator, reason FROM jobs.events WHERE run_id = :r", r=run_id)
    assert tuple(event) == ("run-cancelled", OPERATOR[0], "wrong day")
    page = operator.get(f"/runs/{run_id}").text
    assert "run-cancelled" in page and f"by <strong>{OPERATOR[0]}</strong>" in page and "wrong day" in page
    assert 'action="/runs/' + run_id + '/cancel"' not in page  # nothing left to cancel


def test_an_action_without_the_sessions_csrf_token_is_refused_and_changes_nothing(console, operator, service):
    run_id = service.trigger("long-step", {"seconds": 30})
    other = signed_in(console.base, *OPERATOR)  # the same operator's other session: its token is not this one's
    for form, headers in (
        ({"reason": "no token"}, {}),
        ({"reason": "bad token", "csrf": "x" * 43}, {}),
        ({"reason": "another session's token", "csrf": other.csrf}, {}),
        ({"reason": "from another site", "csrf": operator.csrf}, {"Origin": "https://evil.example"}),
        ({"reason": "another scheme", "csrf": operator.csrf}, {"Origin": "https://" + console.base.split("//")[1]}),
        ({"reason": "an opaque origin", "csrf": operator.csrf}, {"Origin": "null"}),
    ):
        refused = operator.post(f"/runs/{run_id}/cancel", data=form, headers=headers)
        assert refused.status_code == 403, form
    other.close()
    assert query(service, "SELECT status FROM jobs.runs WHERE run_id = :r", r=run_id)[0].status == "running"
    # htmx sends the token as a header instead of a field.
    accepted = operator.post(
        f"/runs/{run_id}/cancel", data={"reason": "by header"}, headers={"X-CSRF-Token": operator.csrf}
    )
    assert accepted.status_code == 303


def test_a_viewer_sees_no_action_and_a_forged_post_is_refused_with_403(viewer, service):
    run_id = service.trigger("long-step", {"seconds": 30})
    page = viewer.get(f"/runs/{run_id}").text
    assert "/cancel" not in page and "Put it right" not in page
    assert "/trigger/" not in viewer.get("/").text

    for path, form in (
        (f"/runs/{run_id}/cancel", {"reason": "forged"}),
        (f"/runs/{run_id}/retry", {"reason": "forged"}),
        ("/schedules/pipeline/pause", {"reason": "forged"}),
        ("/trigger/noop", {"reason": "forged"}),
    ):
        refused = viewer.post(path, data={**form, "csrf": viewer.csrf})
        assert refused.status_code == 403, path
        assert "is a viewer" in refused.text
    assert query(service, "SELECT count(*) AS n FROM jobs.events WHERE kind NOT LIKE 'sign%'")[0].n == 0
    assert query(service, "SELECT count(*) AS n FROM jobs.runs")[0].n == 1


def test_an_action_needs_a_reason(operator, service):
    run_id = service.trigger("long-step", {"seconds": 30})
    for reason in ("", "   ", "x" * 501):
        refused = operator.post(f"/runs/{run_id}/cancel", data={"csrf": operator.csrf, "reason": reason})
        assert refused.status_code == 400
        assert "reason" in refused.text
    assert query(service, "SELECT status FROM jobs.runs WHERE run_id = :r", r=run_id)[0].status == "running"


def test_a_refused_action_is_a_page_saying_why_never_a_trace(operator, service):
    for path, status in (
        ("/runs/00000000-0000-4000-8000-000000000000/cancel", 404),
        ("/runs/not-a-run/retry", 404),
        ("/schedules/nothing/pause", 404),
        ("/trigger/nothing", 404),
    ):
        answer = operator.post(path, data={"csrf": operator.csrf, "reason": "why not"})
        assert answer.status_code == status, path
        assert answer.headers["content-type"].startswith("text/html")
        assert "Traceback" not in answer.text
    run_id = service.trigger("noop")
    again = operator.post(f"/runs/{run_id}/retry", data={"csrf": operator.csrf, "reason": "not failed"})
    assert again.status_code == 409 and "That could not be done" in again.text
    not_a_form = operator.post(
        f"/runs/{run_id}/cancel", content=b'{"reason": "json"}', headers={"Content-Type": "application/json"}
    )
    assert not_a_form.status_code in (403, 415)


@pytest.mark.schedules("pipeline")
def test_pausing_and_resuming_a_schedule_is_recorded_and_shown(operator, service):
    paused = operator.post("/schedules/pipeline/pause", data={"csrf": operator.csrf, "reason": "NALD is late"})
    assert paused.status_code == 303
    page = operator.get("/schedules/pipeline").text
    assert "paused" in page and "NALD is late" in page and "/resume" in page
    assert operator.post("/schedules/pipeline/pause", data={"csrf": operator.csrf, "reason": "x"}).status_code == 409

    operator.post("/schedules/pipeline/resume", data={"csrf": operator.csrf, "reason": "it came"})

    rows = query(service, "SELECT kind, operator, reason FROM jobs.events WHERE schedule = 'pipeline' ORDER BY id")
    assert [tuple(r) for r in rows] == [
        ("schedule-paused", OPERATOR[0], "NALD is late"),
        ("schedule-resumed", OPERATOR[0], "it came"),
    ]


def test_an_operator_starts_a_job_from_its_form_and_a_bad_parameter_is_named(operator, service):
    form = operator.get("/trigger/fan").text
    assert re.search(r'<label for="param-n">n</label>', form) and 'name="param.fail"' in form

    bad = operator.post("/trigger/fan", data={"csrf": operator.csrf, "reason": "try", "param.n": "lots"})
    assert bad.status_code == 422
    assert 'id="param-n-problem"' in bad.text
    assert query(service, "SELECT count(*) AS n FROM jobs.runs")[0].n == 0

    started = operator.post(
        "/trigger/fan", data={"csrf": operator.csrf, "reason": "rerun for Jo", "param.n": "3", "param.fail": "1, 2"}
    )

    assert started.status_code == 303
    run_id = started.headers["location"].rsplit("/", 1)[1]
    [run] = query(service, "SELECT job, trigger, params FROM jobs.runs WHERE run_id = :r", r=run_id)
    assert (run.job, run.trigger, run.params) == ("fan", "http", {"n": 3, "fail": [1, 2]})
    [event] = query(service, "SELECT kind, operator, reason FROM jobs.events WHERE run_id = :r", r=run_id)
    assert tuple(event) == ("run-triggered", OPERATOR[0], "rerun for Jo")


def test_the_trusted_user_header_is_read_only_where_a_setting_names_it(processes, service):
    from tests.support.api import start_api
    from tests.support.console import add_accounts

    add_accounts(service)
    plain = start_api(processes)
    assert httpx.get(f"{plain.base}/", headers={"X-Forwarded-User": OPERATOR[0]}).status_code == 303
    proxied = start_api(processes, extra_env={"WRLS_CONSOLE_USER_HEADER": "X-Forwarded-User"})
    with httpx.Client(base_url=proxied.base, headers={"X-Forwarded-User": OPERATOR[0]}) as client:
        page = client.get("/")
        assert page.status_code == 200 and OPERATOR[0] in page.text
        run_id = service.trigger("long-step", {"seconds": 30})
        token = csrf_of(page.text)
        assert client.post(f"/runs/{run_id}/cancel", data={"csrf": token, "reason": "via proxy"}).status_code == 303
    # A name that is not an account gets nothing.
    assert httpx.get(f"{proxied.base}/", headers={"X-Forwarded-User": "mallory"}).status_code == 303


@pytest.mark.schedules("pipeline")
def test_an_operator_backfills_a_schedules_missed_ticks_from_its_page(operator, service):
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    local = ZoneInfo("Europe/London")
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    since = (minute - timedelta(minutes=3)).astimezone(local).strftime("%Y-%m-%dT%H:%M")
    until = (minute - timedelta(minutes=2)).astimezone(local).strftime("%Y-%m-%dT%H:%M")
    assert 'action="/schedules/pipeline/backfill"' in operator.get("/schedules/pipeline").text
    bad = operator.post(
        "/schedules/pipeline/backfill", data={"csrf": operator.csrf, "reason": "x", "since": until, "until": since}
    )
    assert bad.status_code == 400 and "range" in bad.text

    done = operator.post(
        "/schedules/pipeline/backfill",
        data={"csrf": operator.csrf, "reason": "broker was down", "since": since, "until": until},
    )

    assert done.status_code == 303
    [run] = query(service, "SELECT nominal_time FROM jobs.runs")
    assert run.nominal_time == minute - timedelta(minutes=3)
    [event] = query(service, "SELECT kind, operator, reason FROM jobs.events WHERE schedule = 'pipeline'")
    assert tuple(event) == ("schedule-backfilled", OPERATOR[0], "broker was down")
    assert "s-backfilled" in operator.get("/schedules/pipeline").text


def test_an_operator_replays_a_dead_letter_once_from_its_page_and_a_viewer_cannot(
    console, operator, viewer, service, processes, vhost
):
    from tests.support.helpers import wait_run_ended, wait_worker_ready
    from tests.support.services import wait_for

    processes("worker")
    wait_worker_ready(vhost)
    with service.engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO test_broken (what) VALUES ('step')")
    run_id = service.trigger("fixable")
    assert wait_run_ended(service, run_id).status == "failed"
    page = wait_for(lambda: t if "Replay once" in (t := operator.get("/dead-letters").text) else None, what="a letter")
    message_id = re.search(r'action="/dead-letters/([^/"]+)/replay"', page).group(1)
    assert run_id[:8] in page and "Replay once" not in viewer.get("/dead-letters").text
    assert (
        viewer.post(f"/dead-letters/{message_id}/replay", data={"csrf": viewer.csrf, "reason": "x"}).status_code == 403
    )
    with service.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM test_broken")

    replayed = operator.post(f"/dead-letters/{message_id}/replay", data={"csrf": operator.csrf, "reason": "fixed"})

    assert replayed.status_code == 303 and replayed.headers["location"] == f"/runs/{run_id}"
    assert wait_run_ended(service, run_id).status == "succeeded"
    again = operator.post(f"/dead-letters/{message_id}/replay", data={"csrf": operator.csrf, "reason": "again"})
    assert again.status_code == 409
    [event] = query(service, "SELECT operator, reason FROM jobs.events WHERE kind = 'replayed'")
    assert tuple(event) == (OPERATOR[0], "fixed")
