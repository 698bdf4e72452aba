"""The console's pages (runtime/console/pages.py, filters.py, ledger_reads.py, export.py) against the ledger."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.services import wait_for

PAGES = ("/", "/runs", "/schedules", "/schedules/pipeline", "/stalls", "/dead-letters")


def _run_ids(html: str) -> list[str]:
    return re.findall(r'<a class="mono" href="/runs/([0-9a-f-]{36})">', html)


def test_every_page_is_served_with_a_policy_that_allows_no_inline_script_and_carries_none(operator, service):
    run_id = service.trigger("long-step", {"seconds": 30})
    for path in (*PAGES, f"/runs/{run_id}", "/trigger/fan"):
        answer = operator.get(path)
        assert answer.status_code == 200, path
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert re.match(r"app;dur=\d+\.\d$", answer.headers["server-timing"]), path
        html = answer.text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), f"{path}: an inline script"
        assert not re.search(r"\son[a-z]+=", html) and " style=" not in html, f"{path}: an inline handler or style"
        assert "<form" not in html or html.count('name="csrf"') == html.count("<form") - html.count('method="get"')


def test_the_overview_shows_each_job_its_last_run_and_the_failures_of_the_last_day(operator, service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    failed = service.trigger("fail-fast")
    assert wait_run_ended(service, failed).status == "failed"
    service.trigger("long-step", {"seconds": 30})

    page = operator.get("/").text

    row = re.search(r'<tr>\s*<th scope="row"><a href="/runs\?job=fail-fast">fail-fast</a></th>(.*?)</tr>', page, re.S)
    assert row and "s-failed" in row.group(1) and failed[:8] in row.group(1)
    assert '<a class="bad" href="/runs?job=fail-fast&amp;status=failed">1</a>' in row.group(1)
    running = re.search(r'<a href="/runs\?job=long-step&amp;status=running">1</a>', page)
    assert running, "long-step is running now"
    assert re.search(r"<th scope=\"row\">long</th><td>\d+</td>", page), "the long queue's depth"


def test_runs_are_filtered_from_the_url_paged_newest_first_and_refused_when_a_filter_is_not_valid(operator, service):
    ids = [service.trigger("noop", force=True) for _ in range(55)]
    other = service.trigger("long-step", {"seconds": 30})

    first = operator.get("/runs?job=noop").text
    shown = _run_ids(first)
    assert shown == [i for i in reversed(ids)][:50] and other not in shown
    older = re.search(r'<a href="(/runs\?[^"]+)" rel="next">', first).group(1).replace("&amp;", "&")
    assert "job=noop" in older
    assert _run_ids(operator.get(older).text) == list(reversed(ids))[50:]
    assert _run_ids(operator.get("/runs?status=running&job=long-step").text) == [other]
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert _run_ids(operator.get(f"/runs?since={future}").text) == []

    for bad, field in (
        ("job=nothing", "job"),
        ("status=lost", "status"),
        ("trigger=fax", "trigger"),
        ("since=yesterday", "since"),
        ("since=2026-02-01T00:00&until=2026-01-01T00:00", "since"),
        ("cursor=abc", "cursor"),
        ("cursor=" + "A" * 201, "cursor"),
    ):
        refused = operator.get(f"/runs?{bad}")
        assert refused.status_code == 400, bad
        assert f"{field}:" in refused.text, bad


def test_the_runs_csv_has_every_filtered_run_and_no_cell_a_spreadsheet_would_run(operator, service):
    ids = {service.trigger("noop", force=True) for _ in range(3)}
    with service.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE jobs.runs SET error = '  =HYPERLINK(\"http://evil\")'")
    service.trigger("long-step", {"seconds": 30})

    answer = operator.get("/runs.csv?job=noop")

    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="runs-noop.csv"' in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {r["run_id"] for r in rows} == ids
    assert {r["error"] for r in rows} == {'\'  =HYPERLINK("http://evil")'}


def test_a_run_page_shows_fan_out_progress_and_its_failed_children(operator, service, processes, vhost):
    processes("worker")
    wait_worker_ready(vhost)
    run_id = service.trigger("fan-strict", {"n": 6, "fail": [1, 4]})
    assert wait_run_ended(service, run_id).status == "failed"

    page = operator.get(f"/runs/{run_id}").text

    assert "6 of 6 arrived, 2 failed" in page
    children = re.search(r'aria-label="Failed items">(.*?)</table>', page, re.S).group(1)
    # Each failed item by its position and as its step fanned it out (the items are the numbers 0 to 5).
    assert re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td>", children) == [("1", "1"), ("4", "4")]
    assert 'value="failed-children"' in page  # the retry of only the failed children is offered


def test_the_live_part_of_a_run_polls_while_it_runs_and_asks_for_a_whole_page_once_it_has_ended(operator, service):
    run_id = service.trigger("long-step", {"seconds": 30})
    live = operator.get(f"/runs/{run_id}/live")
    assert 'hx-trigger="every 2s"' in live.text and "hx-refresh" not in live.headers
    assert live.text.lstrip().startswith('<div id="live"')

    operator.post(f"/runs/{run_id}/cancel", data={"csrf": operator.csrf, "reason": "done watching"})

    ended = operator.get(f"/runs/{run_id}/live")
    assert ended.headers["hx-refresh"] == "true"
    assert "hx-trigger" not in ended.text


@pytest.mark.schedules("pipeline,gate")
def test_schedules_say_their_cron_in_words_with_their_ticks(operator, service):
    with service.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO jobs.ticks (schedule, nominal_time, outcome, detail) "
            "VALUES ('pipeline', now() - interval '1 minute', 'missed', 'nobody claimed it in 120 s')"
        )
    listing = operator.get("/schedules").text
    assert "every minute" in listing and "01:00 every day" in listing
    page = operator.get("/schedules/pipeline").text
    assert "s-missed" in page and "nobody claimed it in 120 s" in page
    assert page.count("<li>") >= 10  # the next ten ticks
    assert operator.get("/schedules/nothing").status_code == 404


def test_stalls_lists_steps_past_their_heartbeat_with_their_age(operator, service):
    run_id = service.trigger("long-step", {"seconds": 30})
    # The step's row is written by the ledger's writer, a moment after the start.
    wait_for(lambda: scalar(service, "SELECT count(*) FROM jobs.steps WHERE run_id = :r", r=run_id), 10, what="the row")
    with service.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE jobs.steps SET status = 'running', started_at = now() - interval '30 minutes', "
            "heartbeat_at = now() - interval '25 minutes'"
        )
    page = operator.get("/stalls").text
    assert run_id[:8] in page and "long-step" in page and "25 min" in page


def test_pages_answer_a_client_that_is_not_signed_in_by_sending_it_to_sign_in(console):
    for path in (*PAGES, "/runs.csv", "/trigger/fan"):
        answer = httpx.get(f"{console.base}{path}")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next="), path
    assert query is not None


def test_the_workers_page_shows_each_worker_process_and_its_heartbeat(operator, processes, vhost):
    assert "No worker is known" in operator.get("/workers").text
    processes("worker")
    wait_worker_ready(vhost)

    page = wait_for(lambda: t if "s-alive" in (t := operator.get("/workers").text) else None, what="a worker")

    row = re.search(r'<td class="mono">([^<]+:\d+)</td><td><span class="status s-alive">alive</span>', page)
    assert row, page[-3000:]
    assert "short" in page and "long" in page


def test_a_browser_gets_a_page_for_a_route_that_does_not_exist_and_a_script_still_gets_json(console):
    page = httpx.get(f"{console.base}/nothing/here", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "no such route" in page.text and "default-src 'none'" in page.headers["content-security-policy"]
    script = httpx.get(f"{console.base}/nothing/here")
    assert script.status_code == 404 and script.json()["statusCode"] == 404
    api = httpx.get(f"{console.base}/api/v1/nothing", headers={"Accept": "text/html"})
    assert api.headers["content-type"].startswith("application/json")
