"""refresh-event end to end: notices and their rows in PostgreSQL, a real worker."""

from __future__ import annotations

from sqlalchemy import text

from tests.support.helpers import wait_run_ended, wait_worker_ready
from tests.support.notices import add_event, add_message

JOB = "refresh-event"
META = {"name": "Returns: invitation", "recipients": 3, "options": {"excludeLicences": []}}


def refresh(wrls):
    return wait_run_ended(wrls, wrls.trigger(JOB), 30)


def event(wrls, event_id: str):
    with wrls.engine.connect() as connection:
        return connection.execute(text("SELECT * FROM water.events WHERE event_id = :id"), {"id": event_id}).one()


def test_a_notice_is_completed_once_every_row_is_settled_and_its_counts_kept(wrls, worker, vhost):
    done = add_event(wrls, metadata=META)
    for status in ("sent", "sent", "error"):
        add_message(wrls, done, status=status)
    going = add_event(wrls, metadata=META)
    add_message(wrls, going, status="sent")
    waiting = add_message(wrls, going, status="sending")
    empty = add_event(wrls, metadata={"recipients": 0})
    old = add_event(wrls, created_days_ago=8, metadata=META)
    add_message(wrls, old, status="sent")
    processed = add_event(wrls, status="processed", metadata=META)
    add_message(wrls, processed, status="sent")
    worker()
    wait_worker_ready(vhost, "short")

    run = refresh(wrls)
    assert run.status == "succeeded", run.error
    assert run.counts == {"events_updated": 3, "events_completed": 2}
    row = event(wrls, done)
    assert row.status == "completed" and row.modified is not None
    assert row.metadata == {**META, "sent": 2, "error": 1}  # the rest of metadata is kept
    row = event(wrls, going)
    assert row.status == "sending" and row.metadata == {**META, "sent": 1, "error": 0}
    assert event(wrls, empty).status == "completed"
    for untouched in (old, processed):
        assert (event(wrls, untouched).metadata, event(wrls, untouched).modified) == (META, None)

    # Unchanged counts are not written again; the last row settling completes the notice.
    modified = event(wrls, going).modified
    assert refresh(wrls).counts == {}
    assert event(wrls, going).modified == modified
    with wrls.engine.begin() as connection:
        connection.execute(
            text("UPDATE water.scheduled_notification SET status = 'error' WHERE id = :id"), {"id": waiting}
        )
    assert refresh(wrls).counts == {"events_updated": 1, "events_completed": 1}
    row = event(wrls, going)
    assert row.status == "completed" and row.metadata == {**META, "sent": 1, "error": 1}
