"""check-status end to end: sent rows in PostgreSQL, a real worker, a fake GOV.UK
Notify whose notifications move on (delivered, permanent-failure...)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from notifications_python_client.notifications import NotificationsAPIClient

from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.messages import publish, signed
from tests.support.notices import ADDRESS, EMAIL_TEMPLATE, add_event, add_message, message
from tests.support.notify import AUTH_ERROR, SERVER_ERROR

JOB = "check-status"


def check(wrls, timeout_s: float = 30):
    return wait_run_ended(wrls, wrls.trigger(JOB), timeout_s)


def sent(wrls, notify, event: str, status: str, *, letter: bool = False, **columns) -> str:
    """A row send-message sent: the notification exists in Notify, with ``status``."""
    client = NotificationsAPIClient(notify.api_key, base_url=notify.base_url)
    if letter:
        answer = client.send_letter_notification(EMAIL_TEMPLATE, ADDRESS)
    else:
        answer = client.send_email_notification("holder@example.com", EMAIL_TEMPLATE)
    notify.set_status(answer["id"], status)
    return add_message(
        wrls, event, status="sent", notify_id=answer["id"], message_type="letter" if letter else "email", **columns
    )


def polled(notify) -> set[str]:
    return {r.path.rsplit("/", 1)[1] for r in notify.received("GET") if r.path.startswith("/v2/notifications/")}


def test_statuses_are_stored_and_asked_again_on_the_legacy_backoff(wrls, worker, vhost, notify):
    event = add_event(wrls)
    email = sent(wrls, notify, event, "sending", sent_minutes_ago=0)
    letter = sent(wrls, notify, event, "accepted", letter=True, sent_minutes_ago=0)
    third = sent(wrls, notify, event, "delivered", sent_minutes_ago=5, status_checks=2)
    final = sent(wrls, notify, event, "delivered", sent_minutes_ago=1, notify_status="delivered")
    old = sent(wrls, notify, event, "sending", sent_minutes_ago=8 * 24 * 60)
    errored = add_message(wrls, event, status="error", notify_id="a0000000-0000-4000-8000-000000000000")
    notify.requests.clear()
    worker()
    wait_worker_ready(vhost, "short")

    run = check(wrls)
    assert run.status == "succeeded", run.error
    assert run.counts == {"checked": 3}
    wanted = {message(wrls, r).notify_id for r in (email, letter, third)}
    assert polled(notify) == wanted
    for row_id, notify_status, checks, after in (
        (email, "sending", 1, timedelta(minutes=1)),
        (letter, "accepted", 1, timedelta(hours=12)),
        (third, "delivered", 3, timedelta(minutes=9)),
    ):
        row = message(wrls, row_id)
        assert (row.notify_status, row.status_checks, row.status) == (notify_status, checks, "sent")
        assert row.next_status_check - row.send_after == after
    for row_id in (final, old, errored):
        assert message(wrls, row_id).status_checks is None

    # Nothing is due again yet: the next tick asks Notify nothing.
    notify.requests.clear()
    again = check(wrls)
    assert again.status == "succeeded" and again.note == "no statuses due"
    assert notify.requests == []


def test_a_tick_checks_at_most_the_configured_number_longest_waiting_first(wrls, worker, vhost, notify):
    event = add_event(wrls)
    # Nine checks made, the tenth due since 29, 28 and 27 minutes ago; after it, the next is 100 minutes on.
    rows = [sent(wrls, notify, event, "delivered", sent_minutes_ago=30 - i, status_checks=9) for i in range(3)]
    with wrls.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE water.scheduled_notification SET next_status_check = send_after + interval '1 minute'"
        )
    notify.requests.clear()
    worker({"WRLS_NOTIFY_STATUS_CHECKS": "2"})
    wait_worker_ready(vhost, "short")

    assert check(wrls).counts == {"checked": 2}
    assert [message(wrls, r).notify_status for r in rows] == ["delivered", "delivered", None]
    assert check(wrls).counts == {"checked": 1}
    assert message(wrls, rows[2]).notify_status == "delivered"


def test_notify_unavailable_leaves_the_rows_due_and_an_unknown_notification_waits_its_turn(wrls, worker, vhost, notify):
    event = add_event(wrls)
    known = sent(wrls, notify, event, "delivered")
    unknown = add_message(wrls, event, status="sent", notify_id="b0000000-0000-4000-8000-000000000000")
    notify.fail(SERVER_ERROR, times=None, method="GET")
    worker()
    wait_worker_ready(vhost, "short")

    down = check(wrls)
    assert down.status == "failed"
    assert "GOV.UK Notify answered 500: Exception: Internal server error" in down.error
    assert [message(wrls, r).status_checks for r in (known, unknown)] == [None, None]

    notify.recover()
    run = check(wrls)
    assert run.status == "succeeded", run.error
    assert run.counts == {"checked": 1, "unknown": 1}
    assert message(wrls, known).notify_status == "delivered"
    row = message(wrls, unknown)  # Notify answered 404: asked again on the backoff, not every tick
    assert (row.notify_status, row.status_checks) == (None, 1)
    assert row.next_status_check - row.send_after == timedelta(minutes=1)


def test_a_refused_key_fails_the_tick(wrls, worker, vhost, notify):
    row = sent(wrls, notify, add_event(wrls), "delivered")
    notify.fail(AUTH_ERROR, times=None)
    worker()
    wait_worker_ready(vhost, "short")
    run = check(wrls)
    assert run.status == "failed"
    assert "GOV.UK Notify answered 403: AuthError: Invalid token: API key not found" in run.error
    assert message(wrls, row).status_checks is None


def test_a_check_for_a_run_that_does_not_exist_is_dead_lettered_and_asks_notify_nothing(wrls, worker, vhost, notify):
    event = add_event(wrls)
    due = sent(wrls, notify, event, "sending", sent_minutes_ago=0)
    notify.requests.clear()
    # WRLS's own worker: its main process and its worker process each build a Service.
    worker()
    wait_worker_ready(vhost, "short")
    zero = "00000000-0000-0000-0000-000000000000"
    publish(
        vhost,
        "short",
        signed(
            {
                "queue_name": "short",
                "actor_name": "check-status.check",
                "message_id": str(uuid.uuid4()),
                "kwargs": {"run_id": zero, "params": {}},
            }
        ),
    )
    publish(vhost, "short", b"{not json")
    svc.wait_for(
        lambda: svc.queue_stats(vhost, "short.XQ").get("messages", 0) == 2, 30, what="both messages in short.XQ"
    )
    stray = svc.wait_for(
        lambda: query(wrls, "SELECT detail FROM jobs.events WHERE kind = 'stray'"), 10, what="the stray recorded"
    )
    assert [s.detail for s in stray] == [f"check-status.check: run {zero} does not exist; dead-lettered"]
    time.sleep(1)  # a second record of the bad body, if any, comes from the same worker right after the first
    assert len(query(wrls, "SELECT * FROM jobs.events WHERE kind = 'rejected'")) == 1
    assert scalar(wrls, "SELECT value FROM jobs.counters WHERE name = 'messages_rejected_total'") == 2
    assert polled(notify) == set() and message(wrls, due).status_checks is None
    assert scalar(wrls, "SELECT count(*) FROM jobs.steps WHERE status = 'succeeded'") == 0
