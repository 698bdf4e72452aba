"""send-message end to end: due rows in PostgreSQL, real workers on RabbitMQ, a fake
GOV.UK Notify that checks the official client's JWT and answers with Notify's bodies."""

from __future__ import annotations

import json
import uuid

import pika
import pytest

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.notices import ADDRESS, EMAIL_TEMPLATE, PDF, add_event, add_message, add_station, message
from tests.support.notify import AUTH_ERROR, DAILY_LIMIT_ERROR, RATE_LIMIT_ERROR, SERVER_ERROR

JOB = "send-message"
SENDS = ("/v2/notifications/email", "/v2/notifications/letter")


def send(wrls, params: dict | None = None, timeout_s: float = 60):
    return wait_run_ended(wrls, wrls.trigger(JOB, params), timeout_s)


def posts(notify):
    return [r for r in notify.requests if r.method == "POST" and r.path in SENDS]


def test_emails_letters_precompiled_letters_and_alerts_are_sent_once(wrls, worker, vhost, notify):
    event = add_event(wrls)
    email = add_message(wrls, event, personalisation={"name": "Holder", "returnDueDate": "28 April 2024"})
    letter = add_message(
        wrls,
        event,
        message_type="letter",
        recipient="n/a",
        template_id=None,
        message_ref="returns_invitation_licence_holder_letter",
        personalisation=ADDRESS,
    )
    paper = add_message(
        wrls,
        event,
        message_type="letter",
        recipient="n/a",
        template_id=None,
        message_ref="pdf.return_form",
        personalisation=ADDRESS,
        pdf=PDF,
    )
    station = add_station(wrls, status="resume")
    alert = add_message(
        wrls,
        event,
        template_id=None,
        message_ref="water_abstraction_alert_stop_email",
        licence_gauging_station_id=station,
        personalisation={"sending_alert_type": "stop", "licenceGaugingStationId": station},
    )
    later = add_message(wrls, event, sent_minutes_ago=-10)  # send_after in the future
    draft = add_message(wrls, event, status="draft")
    stale = add_message(wrls, event, sent_minutes_ago=8 * 24 * 60)  # over the legacy's week
    worker()
    wait_worker_ready(vhost, "short")

    run = send(wrls)
    assert run.status == "succeeded", run.error
    assert run.counts == {"sent": 4, "alerts": 1}
    assert run.note == "4 sent, 0 errors (due)"

    [sent_email, sent_alert] = sorted(notify.emails(), key=lambda n: n["reference"] != email)
    assert sent_email["email_address"] == "holder@example.com" and sent_email["reference"] == email
    assert sent_email["template"]["id"] == EMAIL_TEMPLATE
    assert sent_email["personalisation"] == {"name": "Holder", "returnDueDate": "28 April 2024"}
    row = message(wrls, email)
    assert (row.status, row.notify_id, row.plaintext, row.log) == ("sent", sent_email["id"], sent_email["body"], None)
    assert sent_alert["template"]["id"] == "d7468ba1-ac65-42c4-9785-8998f9c34e01"  # the legacy's stop email

    [template_letter, precompiled] = sorted(notify.letters(), key=lambda n: n["template"] is None)
    assert template_letter["template"]["id"] == "4fe80aed-c5dd-44c3-9044-d0289d635019"
    assert template_letter["personalisation"] == ADDRESS and template_letter["reference"] == letter
    assert message(wrls, letter).plaintext == template_letter["body"]
    # A precompiled letter is sent as it is stored; Notify's answer has no content, and that is no error.
    assert precompiled["pdf"] == PDF and precompiled["reference"] == f"Farm House {paper}"
    row = message(wrls, paper)
    assert (row.status, row.notify_id, row.plaintext, row.log) == ("sent", precompiled["id"], None, None)

    [gauging] = query(wrls, "SELECT status, date_status_updated FROM water.licence_gauging_stations")
    assert gauging.status == "stop" and gauging.date_status_updated is not None
    assert message(wrls, alert).status == "sent"
    for untouched, status in ((later, "sending"), (draft, "draft"), (stale, "sending")):
        assert (message(wrls, untouched).status, message(wrls, untouched).notify_id) == (status, None)
    assert all(r.claims["iss"] == notify.service_id and r.status == 201 for r in posts(notify))

    again = send(wrls)
    assert again.status == "succeeded", again.error
    assert again.note == "nothing to send (due)"
    assert len(posts(notify)) == 4


def test_a_message_notify_refuses_is_recorded_with_notifys_message(wrls, worker, vhost, notify):
    event = add_event(wrls)
    station = add_station(wrls, status="resume")
    bad_email = add_message(wrls, event, recipient="not-an-email")
    bad_alert = add_message(
        wrls,
        event,
        recipient="not-an-email",
        message_ref="water_abstraction_alert_reduce_email",
        licence_gauging_station_id=station,
        personalisation={"sending_alert_type": "reduce"},
    )
    bad_letter = add_message(wrls, event, message_type="letter", personalisation={"address_line_1": "Farm House"})
    no_template = add_message(wrls, event, template_id=None, message_ref="no_such_ref")
    good = add_message(wrls, event)
    worker()
    wait_worker_ready(vhost, "short")

    run = send(wrls)
    assert run.status == "succeeded", run.error
    assert run.counts == {"sent": 1, "errors": 4}
    for row_id, answer in (
        (bad_email, "email_address Not a valid email address"),
        (bad_alert, "email_address Not a valid email address"),
        (bad_letter, "personalisation address_line_2 is a required property"),
    ):
        row = message(wrls, row_id)
        assert row.status == "error" and row.notify_id is None
        assert json.loads(row.log) == {"error": "Notify error", "message": answer}
    assert json.loads(message(wrls, no_template).log) == {
        "error": "Not sent",
        "message": "no Notify template for message_ref 'no_such_ref'",
    }
    assert message(wrls, good).status == "sent"
    # The alert was not sent, so its station keeps its status.
    assert scalar(wrls, "SELECT status FROM water.licence_gauging_stations") == "resume"
    assert sorted(r.status for r in posts(notify)) == [201, 400, 400, 400]


@pytest.mark.parametrize("error", [DAILY_LIMIT_ERROR, SERVER_ERROR], ids=["429-daily", "500"])
def test_a_daily_limit_or_notify_error_is_retried_and_nothing_is_sent_twice(wrls, worker, vhost, notify, error):
    event = add_event(wrls)
    rows = [add_message(wrls, event) for _ in range(5)]
    notify.fail(error, times=1, method="POST")
    worker()
    wait_worker_ready(vhost, "short")

    run = send(wrls)
    assert run.status == "succeeded", run.error
    [retrying] = query(wrls, "SELECT detail FROM jobs.events WHERE run_id = :r AND kind = 'retrying'", r=run.run_id)
    assert f"GOV.UK Notify answered {error.status}: {error.error}: {error.message}" in retrying.detail
    assert [message(wrls, r).status for r in rows] == ["sent"] * 5
    answered = [r.status for r in posts(notify)]
    assert answered.count(error.status) == 1 and answered.count(201) == 5
    assert sorted(n["reference"] for n in notify.emails()) == sorted(rows)


def test_notifys_rate_limit_pauses_one_sender_and_the_run_goes_on(wrls, worker, vhost, notify):
    event = add_event(wrls)
    rows = [add_message(wrls, event) for _ in range(5)]
    notify.fail(RATE_LIMIT_ERROR, times=2, method="POST")
    worker()
    wait_worker_ready(vhost, "short")

    run = send(wrls)
    assert run.status == "succeeded", run.error
    assert run.counts["rate_limited"] == 2 and run.counts["sent"] == 5  # one attempt: nothing failed
    assert scalar(wrls, "SELECT count(*) FROM jobs.events WHERE run_id = :r AND kind = 'retrying'", r=run.run_id) == 0
    answered = [r.status for r in posts(notify)]
    assert answered.count(429) == 2 and answered.count(201) == 5
    assert sorted(n["reference"] for n in notify.emails()) == sorted(rows)


def test_a_message_notify_took_without_answering_is_found_by_reference_not_sent_again(wrls, worker, vhost, notify):
    event = add_event(wrls)
    rows = [add_message(wrls, event) for _ in range(3)]
    notify.drop_after_accept(1)
    worker()
    wait_worker_ready(vhost, "short")

    run = send(wrls)
    assert run.status == "succeeded", run.error
    [dropped] = [r.body["reference"] for r in posts(notify) if r.status is None]
    [lost] = [n for n in notify.emails() if n["reference"] == dropped]  # Notify made it once, and only once
    assert sorted(n["reference"] for n in notify.emails()) == sorted(rows)
    assert message(wrls, dropped).status == "sent"
    assert message(wrls, dropped).notify_id == lost["id"]
    assert message(wrls, dropped).plaintext == lost["body"]
    # Only the row whose answer was lost was looked up; the others were sent straight away.
    lookups = [r for r in notify.requests if r.method == "GET" and r.path == "/v2/notifications"]
    assert [r.query["reference"] for r in lookups] == [[dropped]]
    assert scalar(wrls, "SELECT count(*) FROM water_import.notify_send_attempts") == 0


def test_a_refused_key_fails_the_run_and_leaves_every_row_to_send(wrls, worker, vhost, notify):
    event = add_event(wrls)
    rows = [add_message(wrls, event) for _ in range(3)]
    notify.fail(AUTH_ERROR, times=None)
    worker()
    wait_worker_ready(vhost, "short")

    run = send(wrls)
    assert run.status == "failed"
    assert "GOV.UK Notify answered 403: AuthError: Invalid token: API key not found" in run.error
    assert [(message(wrls, r).status, message(wrls, r).log) for r in rows] == [("sending", None)] * 3
    assert scalar(wrls, "SELECT max(attempt) FROM jobs.steps WHERE run_id = :r", r=run.run_id) == 1  # not retried


def test_two_runs_on_two_workers_send_each_of_1000_rows_exactly_once(wrls, worker, vhost, notify):
    event = add_event(wrls)
    with wrls.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO water.scheduled_notification (event_id, status, message_type, recipient, template_id, "
            f"personalisation, send_after) SELECT '{event}', 'sending', 'email', 'holder' || i || '@example.com', "
            f"'{EMAIL_TEMPLATE}', jsonb_build_object('n', i), now() - interval '1 minute' "
            "FROM generate_series(1, 1000) i"
        )
    worker()
    worker()
    wait_worker_ready(vhost, "short")

    # The second start is a notice's: accepted while the first runs, over the same rows.
    first = wrls.trigger(JOB)
    second = wrls.trigger(JOB, {"event_id": event})
    runs = [wait_run_ended(wrls, run_id, 120) for run_id in (first, second)]
    assert [r.status for r in runs] == ["succeeded", "succeeded"], [r.error for r in runs]
    assert sum(r.counts.get("sent", 0) for r in runs) == 1000

    references = [n["reference"] for n in notify.emails()]
    assert len(references) == len(set(references)) == 1000
    assert len(posts(notify)) == 1000
    assert query(
        wrls, "SELECT status, count(*), count(DISTINCT notify_id) FROM water.scheduled_notification GROUP BY status"
    ) == [("sent", 1000, 1000)]


def test_the_rate_limit_holds_across_two_workers(wrls, worker, vhost, notify):
    # Notify (the fake) refuses a sixth send in any 2 s; the job is set to 4 per 2 s, shared by both runs.
    notify.rate_limit = (5, 2.0)
    limit = {"WRLS_NOTIFY_RATE_LIMIT": "4", "WRLS_NOTIFY_RATE_WINDOW_S": "2"}
    event = add_event(wrls)
    rows = [add_message(wrls, event) for _ in range(12)]
    worker(limit)
    worker(limit)
    wait_worker_ready(vhost, "short")

    runs = [wrls.trigger(JOB), wrls.trigger(JOB, {"event_id": event})]
    ended = [wait_run_ended(wrls, run_id, 60) for run_id in runs]
    assert [r.status for r in ended] == ["succeeded", "succeeded"], [r.error for r in ended]
    assert [message(wrls, r).status for r in rows] == ["sent"] * 12
    answered = [r.status for r in posts(notify)]
    assert answered == [201] * 12  # never a 429
    # The spacing is the limiter's, not luck: 12 sends at 4 per 2 s span at least 5.5 s.
    times = sorted(r.at for r in posts(notify))
    assert times[-1] - times[0] >= 5.5 - 0.5


def test_a_notice_started_by_message_sends_only_its_rows(wrls, worker, vhost, notify):
    notice, other = add_event(wrls), add_event(wrls)
    mine = [add_message(wrls, notice) for _ in range(3)]
    theirs = add_message(wrls, other)
    worker()
    wait_worker_ready(vhost, "control")
    wait_worker_ready(vhost, "short")

    message_id = str(uuid.uuid4())
    body = {
        "queue_name": "control",
        "actor_name": "start-job",
        "message_id": message_id,
        "kwargs": {"job": JOB, "params": {"event_id": notice}},
    }
    connection = pika.BlockingConnection(pika.URLParameters(svc.broker_url(vhost)))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            "",
            "control",
            json.dumps(body).encode(),
            pika.BasicProperties(delivery_mode=2, content_type="application/json"),
        )
    finally:
        connection.close()

    run_id = svc.wait_for(
        lambda: scalar(wrls, "SELECT run_id FROM jobs.runs WHERE trigger_key = :k", k=message_id),
        30,
        what="the notice's run",
    )
    run = wait_run_ended(wrls, str(run_id))
    assert run.status == "succeeded" and run.trigger == "message", run.error
    assert run.note == f"3 sent, 0 errors (of event {notice})"
    assert [message(wrls, r).status for r in mine] == ["sent"] * 3
    assert message(wrls, theirs).status == "sending"


def test_with_nothing_due_notify_is_not_needed(wrls, worker, vhost, notify):
    worker({"WRLS_NOTIFY_API_KEY": ""})  # the embedded default has no key
    wait_worker_ready(vhost, "short")
    run = send(wrls)
    assert (run.status, run.note) == ("succeeded", "nothing to send (due)")

    add_message(wrls, add_event(wrls))
    run = send(wrls)
    assert run.status == "failed" and "WRLS_NOTIFY_API_KEY is not set" in run.error


def test_a_notice_start_with_a_bad_event_id_fails_at_once(wrls, worker, vhost, notify):
    worker()
    wait_worker_ready(vhost, "short")
    run = send(wrls, {"event_id": "RINV-ABC123"})
    assert run.status == "failed"
    assert "event_id must be an event's uuid, got 'RINV-ABC123'" in run.error
    assert notify.requests == []
