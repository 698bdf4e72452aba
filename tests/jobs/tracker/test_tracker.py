"""tracker end to end: ledger rows of past trouble, a real worker, RabbitMQ,
PostgreSQL, and a fake GOV.UK Notify that verifies the official client's JWT."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

from tests.jobs.tracker.conftest import RECIPIENT, TEMPLATE, add_events, add_previous_report
from tests.support.helpers import query, wait_run_ended, wait_worker_ready
from tests.support.notify import SERVER_ERROR, TEAM_KEY_ERROR
from tests.support.processes import ROOT
from wrls_actors.jobs.tracker.report import london_time

UTC = UTC
EMAIL = "/v2/notifications/email"


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def past_trouble(wrls) -> None:
    """A previous report at 10:00 on Friday 12 January 2024, then a weekend of trouble."""
    add_previous_report(wrls, at(2024, 1, 12, 10))
    add_events(
        wrls,
        (at(2024, 1, 11, 9), "failed", "nald-import"),  # reported last time
        (at(2024, 1, 13, 1, 12, 3), "failed", "nald-import"),
        (at(2024, 1, 13, 1, 40, 10), "failed", "nald-import"),
        (at(2024, 1, 13, 1, 5), "retrying", "nald-import"),  # retried: not a problem by itself
        (at(2024, 1, 13, 2), "run-completed-with-failures", "nald-import"),
        (at(2024, 1, 14, 4, 0, 30), "stalled", "licence-import"),
        (at(2024, 1, 14, 4, 20), "dead-lettered", "licence-import"),
        (at(2024, 1, 14, 4, 21), "run-failed", "licence-import"),
        (at(2024, 1, 14, 5), "run-cancelled", "licence-import"),
        (at(2024, 1, 13, 1, 2), "tick-late", "nald-import"),
        (at(2024, 7, 1, 0, 30), "tick-missed", "check-status"),  # British Summer Time: 01:30 in London
        (at(2024, 7, 1, 0, 31), "tick-missed", "check-status"),
        (at(2024, 7, 2, 12), "tick-duplicate", "check-status"),
        (at(2024, 7, 3, 12), "rejected", None),
    )


PAST_TROUBLE_REPORT = (
    "There are 12 problems with jobs in the test environment since 12 Jan 2024 10:00:00.\n"
    "\n"
    "Job name: check-status\n"
    "Missed ticks: 2, first 01 Jul 2024 01:30:00, last 01 Jul 2024 01:31:00\n"
    "Duplicate ticks: 1, first 02 Jul 2024 13:00:00, last 02 Jul 2024 13:00:00\n"
    "\n"
    "Job name: licence-import\n"
    "Failed runs: 1, first 14 Jan 2024 04:21:00, last 14 Jan 2024 04:21:00\n"
    "Cancelled runs (by an operator): 1, first 14 Jan 2024 05:00:00, last 14 Jan 2024 05:00:00\n"
    "Stalled steps: 1, first 14 Jan 2024 04:00:30, last 14 Jan 2024 04:00:30\n"
    "Dead-lettered messages: 1, first 14 Jan 2024 04:20:00, last 14 Jan 2024 04:20:00\n"
    "\n"
    "Job name: nald-import\n"
    "Runs completed with failures: 1, first 13 Jan 2024 02:00:00, last 13 Jan 2024 02:00:00\n"
    "Failed steps: 2, first 13 Jan 2024 01:12:03, last 13 Jan 2024 01:40:10\n"
    "Late ticks: 1, first 13 Jan 2024 01:02:00, last 13 Jan 2024 01:02:00\n"
    "\n"
    "Job name: (no job)\n"
    "Rejected messages (unreadable): 1, first 03 Jul 2024 13:00:00, last 03 Jul 2024 13:00:00"
)


def run_tracker(wrls, timeout_s: float = 60):
    return wait_run_ended(wrls, wrls.trigger("tracker"), timeout_s)


def step_of(wrls, run_id):
    [step] = query(wrls, "SELECT * FROM jobs.steps WHERE run_id = :r AND actor = 'tracker.send-report'", r=run_id)
    return step


def test_one_email_of_the_trouble_since_the_last_report_then_nothing_twice(wrls, worker, vhost, notify):
    past_trouble(wrls)
    worker()
    wait_worker_ready(vhost, "short")

    run = run_tracker(wrls)
    assert run.status == "succeeded", run.error
    [email] = notify.emails()
    assert email["email_address"] == RECIPIENT
    assert email["template"]["id"] == TEMPLATE
    assert email["personalisation"] == {"content": PAST_TROUBLE_REPORT}
    assert email["reference"].startswith("wrls-tracker:test:20240112T100000.000000Z-")
    [post] = notify.received("POST", EMAIL)
    assert post.status == 201 and post.claims["iss"] == notify.service_id  # the JWT was verified
    assert run.counts == {"problems": 12, "jobs_with_problems": 4, "emails_sent": 1}
    assert run.note == f"12 problems in 4 jobs since 12 Jan 2024 10:00:00: sent as notification {email['id']}"

    # The next report starts where this one ended: the same trouble is not reported again.
    again = run_tracker(wrls)
    assert again.status == "succeeded", again.error
    assert again.note == f"nothing to report since {london_time(run.started_at)}"
    assert len(notify.emails()) == 1 and len(notify.received("POST", EMAIL)) == 1


def test_nothing_is_sent_when_nothing_went_wrong(wrls, worker, vhost, notify):
    # Trouble older than the first report's three days is not news.
    add_events(wrls, (at(2024, 1, 13, 1), "failed", "nald-import"))
    worker()
    wait_worker_ready(vhost, "short")
    run = run_tracker(wrls)
    assert run.status == "succeeded", run.error
    assert run.note.startswith("nothing to report since ")
    assert notify.requests == []


def test_notify_failing_retries_the_step_and_one_email_goes_once_it_recovers(wrls, worker, vhost, notify):
    past_trouble(wrls)
    notify.fail(SERVER_ERROR, times=1, method="POST")  # one 500, then Notify is back
    worker()
    wait_worker_ready(vhost, "short")

    run = run_tracker(wrls)
    assert run.status == "succeeded", run.error
    [retried] = query(wrls, "SELECT * FROM jobs.events WHERE run_id = :r AND kind = 'retrying'", r=run.run_id)
    assert retried.detail.endswith("GOV.UK Notify answered 500: Exception: Internal server error")
    assert step_of(wrls, run.run_id).attempt == 2
    [email] = notify.emails()
    assert email["personalisation"] == {"content": PAST_TROUBLE_REPORT}
    assert [r.status for r in notify.received("POST", EMAIL)] == [500, 201]


def test_an_email_accepted_before_the_step_failed_is_not_sent_again(wrls, worker, vhost, notify):
    past_trouble(wrls)
    notify.drop_after_accept()  # Notify takes the email, the answer never arrives
    worker()
    wait_worker_ready(vhost, "short")

    run = run_tracker(wrls)
    assert run.status == "succeeded", run.error
    [email] = notify.emails()
    assert len(notify.received("POST", EMAIL)) == 1
    assert step_of(wrls, run.run_id).attempt == 2
    assert run.note.endswith(f"already sent as notification {email['id']}")
    [lookup, *_] = notify.received("GET", "/v2/notifications")
    assert lookup.query["reference"] == [email["reference"]]


def test_a_refused_email_fails_at_once_and_the_next_report_covers_its_window(wrls, worker, vhost, notify):
    past_trouble(wrls)
    notify.fail(TEAM_KEY_ERROR, times=1, method="POST")
    worker()
    wait_worker_ready(vhost, "short")

    failed = run_tracker(wrls)
    assert failed.status == "failed"
    assert "Can't send to this recipient using a team-only API key" in failed.error
    assert step_of(wrls, failed.run_id).attempt == 1  # no retry: Notify would refuse it again
    assert notify.emails() == []

    run = run_tracker(wrls)
    assert run.status == "succeeded", run.error
    [email] = notify.emails()
    content = email["personalisation"]["content"]
    # The failed report's window is still covered, and its own failure is news too.
    assert content.startswith("There are 14 problems with jobs in the test environment since 12 Jan 2024 10:00:00.")
    for paragraph in PAST_TROUBLE_REPORT.split("\n\n")[1:]:
        assert paragraph in content
    tracker_lines = content.split("Job name: tracker\n")[1].split("\n\n")[0].splitlines()
    assert [line.split(":")[0] for line in tracker_lines] == ["Failed runs", "Failed steps"]


def cli(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "wrls_actors", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_dry_run_prints_the_report_and_sends_and_records_nothing(wrls, wrls_env, notify):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WRLS_")} | wrls_env
    empty = cli(env, "tracker", "--dry-run")
    assert empty.returncode == 0, empty.stderr
    assert "(no previous report: the last 3 days)" in empty.stdout
    assert "nothing to report since" in empty.stdout

    past_trouble(wrls)
    shown = cli(env, "tracker", "--dry-run")
    assert shown.returncode == 0, shown.stderr
    assert "since 12 Jan 2024 10:00:00 (the previous report)" in shown.stdout
    assert f"to: {RECIPIENT}\ntemplate: {TEMPLATE}\n" in shown.stdout
    assert "reference: wrls-tracker:test:20240112T100000.000000Z-" in shown.stdout
    assert shown.stdout.rstrip("\n").endswith(PAST_TROUBLE_REPORT)
    assert notify.requests == []
    assert query(wrls, "SELECT count(*) AS n FROM jobs.runs WHERE job = 'tracker'")[0].n == 1  # the test's own

    refused = cli(env, "tracker")
    assert refused.returncode == 2 and "wrls-actors trigger tracker" in refused.stderr
