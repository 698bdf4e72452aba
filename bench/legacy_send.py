"""The legacy's way of sending notifications, the baseline of bench/notifications.py.

Every 15 s the legacy's ``notifications.sendMessage`` read up to 100 due rows
(a plain SELECT, no claim) and sent them all at once, with no throttle and no
retry: any failure, a 429 included, made the row ``error`` for good. BullMQ
ran it with concurrency 1, so a tick that overran its 15 s delayed the next.

Here the same loop runs in the benchmark's process, for a few ticks, on rows
of its own event, against a fake Notify with the same rate limit. Two
differences flatter the legacy: the paper form's PDF is taken from the row
(the legacy rendered it with puppeteer first), and the rows are marked after
the tick's sends (the legacy wrote each as its answer came), so only the
sending is timed.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import psycopg2.extras
from notifications_python_client.notifications import NotificationsAPIClient

from wrls_actors.jobs.send_message.templates import LEGACY_TEMPLATES

TICK_S = 15
BATCH = 100

DUE = """
SELECT id, message_type, message_ref, template_id, recipient, personalisation, pdf, licence_gauging_station_id
FROM water.scheduled_notification
WHERE status = 'sending' AND send_after <= now() AND send_after > now() - interval '7 days' AND event_id = %s
ORDER BY send_after
LIMIT %s
"""
SENT = "UPDATE water.scheduled_notification SET status = 'sent', notify_id = %s, plaintext = %s WHERE id = %s"
FAILED = "UPDATE water.scheduled_notification SET status = 'error', log = %s WHERE id = %s"


@dataclasses.dataclass
class LegacyResult:
    ticks: int
    sent: int
    errors: int
    seconds: float  # first tick to the end of the last tick's 15 s (or of its sends, if they took longer)


def deliver(notify: NotificationsAPIClient, row: dict) -> dict:
    """The legacy's three kinds of send (email, letter, precompiled letter), with the official client."""
    personalisation = row["personalisation"] or {}
    if (row["message_ref"] or "").startswith("pdf."):
        reference = f"{personalisation.get('address_line_1')} {row['id']}"
        return notify.send_precompiled_letter_notification(reference, io.BytesIO(bytes(row["pdf"])))
    template = row["template_id"] or LEGACY_TEMPLATES[row["message_ref"]]
    if row["message_type"] == "email":
        return notify.send_email_notification(row["recipient"], template, personalisation, reference=row["id"])
    return notify.send_letter_notification(template, personalisation, reference=row["id"])


def send_row(notify: NotificationsAPIClient, row: dict) -> tuple[str, str | None, str | None, str | None]:
    """(id, notify_id, plaintext, error) for one row, as the legacy's promise settled."""
    try:
        answer = deliver(notify, row)
    except Exception as e:  # the legacy recorded every failure alike
        return row["id"], None, None, str(e)
    return row["id"], answer.get("id"), (answer.get("content") or {}).get("body"), None


def run_legacy(dsn: str, notify: NotificationsAPIClient, event_id: str, ticks: int) -> LegacyResult:
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    sent = errors = 0
    started = time.monotonic()
    end = started
    try:
        # One thread per row of a tick: the legacy's Promise.all fired them all at once.
        with ThreadPoolExecutor(BATCH, thread_name_prefix="legacy-send") as pool:
            for tick in range(ticks):
                due_at = started + tick * TICK_S
                time.sleep(max(0.0, due_at - time.monotonic()))
                with connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
                    cursor.execute(DUE, (event_id, BATCH))
                    rows = cursor.fetchall()
                outcomes = list(pool.map(lambda row: send_row(notify, row), rows))
                end = max(time.monotonic(), due_at + TICK_S)
                with connection.cursor() as cursor:
                    for row_id, notify_id, plaintext, error in outcomes:
                        if error is None:
                            cursor.execute(SENT, (notify_id, plaintext, row_id))
                            sent += 1
                        else:
                            cursor.execute(FAILED, (json.dumps({"error": "Notify error", "message": error}), row_id))
                            errors += 1
    finally:
        connection.close()
    return LegacyResult(ticks, sent, errors, end - started)
