"""send-message.send: every due ``water.scheduled_notification`` row to GOV.UK Notify.

Due: ``status = 'sending'`` and ``send_after`` within the last 7 days (the
legacy's window), oldest first; with the ``event_id`` param, only that
notice's rows. A few senders work side by side, each taking one row at a time
with ``FOR UPDATE SKIP LOCKED`` and keeping it locked until its outcome is
committed, so two senders, two runs or two workers never take the same row,
and a row whose sender dies is simply due again.

The legacy (``notifications.sendMessage``) took 100 rows per tick with no
claim, no throttle and no retry, marked any failure ``error`` for good, and
recorded every precompiled letter as an error (Notify's answer has no
``content``). Here:

- each send first reserves a slot from the limiter every worker shares
  (``notify_client.reserve_send``), so Notify's rate limit is never passed;
- Notify's 400 is the row's fault: the row becomes ``error`` with Notify's
  message in ``log``; a 429 for the rate limit leaves the row due and pauses
  that sender only; a 429 for the daily limit, a 5xx or no answer leaves the
  row due and fails the attempt (the step is retried, then the next tick tries
  again); a 403 (the key) fails the run and leaves every row due;
- a precompiled letter is ``sent`` with no ``plaintext``;
- a water abstraction alert moves its licence gauging station to the alert's
  status only once Notify accepted it, in the transaction that records it.
"""

from __future__ import annotations

import io
import json
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any

from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient
from sqlalchemy import Connection, Engine, text

from ...config import Config, config
from ...runtime import PermanentError, StepContext
from ..errors import JobError
from ..notify_client import (
    NotifyUnavailable,
    RateLimited,
    RowRejected,
    call,
    client,
    find_by_reference,
    reserve_send,
)
from .templates import LEGACY_TEMPLATES

# Senders per run: enough to reach Notify's 3,000 a minute at ~150 ms a request. Fewer at a low limit:
# each sender holds a reserved slot, and senders the rate cannot use would only wait.
SENDERS = 8
SLOW_ANSWER_S = 0.5

# Notify's 429 for its rate limit (the limiter should prevent it; another
# client on the same key may not): the sender waits this long and goes on.
# So many in one run means something else is sending on the key: the run fails.
RATE_LIMITED_PAUSE_S = 1.0
RATE_LIMITED_MAX = 20

# A run stops taking rows after this long, within the step's 2-minute time
# limit even if its last request takes Notify's full time-out. It outlasts the
# minute between ticks on purpose: the next tick's run starts while this one
# still sends (the schedule allows overlap), so a backlog is sent at the full
# rate with no pause at each minute.
SEND_FOR_S = 100

WINDOW = "interval '7 days'"

IS_DUE = f"""status = 'sending' AND send_after <= now() AND send_after > now() - {WINDOW}
  AND (CAST(:event_id AS uuid) IS NULL OR event_id = CAST(:event_id AS uuid))"""

DUE = text(f"""
SELECT id, message_type, message_ref, template_id, recipient, personalisation, pdf, licence_gauging_station_id,
       (SELECT reference FROM water_import.notify_send_attempts a WHERE a.scheduled_notification_id = n.id)
         AS last_attempt
FROM water.scheduled_notification n WHERE {IS_DUE}
ORDER BY send_after, id
LIMIT 1
FOR UPDATE SKIP LOCKED
""")

# Rows being sent by others count too: a sender may then wait for a slot in vain, never send early.
ANY_DUE = text(f"SELECT EXISTS (SELECT 1 FROM water.scheduled_notification WHERE {IS_DUE})")

SENT = text(
    "UPDATE water.scheduled_notification SET status = 'sent', notify_id = :notify_id, "
    "plaintext = :plaintext, log = NULL, updated_at = now() WHERE id = :id"
)
FAILED = text("UPDATE water.scheduled_notification SET status = 'error', log = :log, updated_at = now() WHERE id = :id")
ATTEMPT = text(
    "INSERT INTO water_import.notify_send_attempts (scheduled_notification_id, reference) "
    "VALUES (:id, :reference) ON CONFLICT (scheduled_notification_id) DO UPDATE "
    "SET reference = EXCLUDED.reference, attempted_at = now()"
)
ATTEMPT_ENDED = text("DELETE FROM water_import.notify_send_attempts WHERE scheduled_notification_id = :id")
ALERT = text(
    "UPDATE water.licence_gauging_stations SET status = :status, date_status_updated = now(), "
    "date_updated = now() WHERE licence_gauging_station_id = :id"
)


class RateLimitedCount:
    """429s for the rate limit across a run's senders."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.n = 0

    def add(self) -> int:
        with self._lock:
            self.n += 1
            return self.n


class NotSendable(JobError):
    """The row cannot be sent as written (no template, no PDF, an unknown type): Notify is not asked."""


def event_id_param(params: Mapping[str, Any]) -> str | None:
    value = params.get("event_id")
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise PermanentError(f"event_id must be an event's uuid, got {value!r}") from None


def send_messages(ctx: StepContext) -> None:
    cfg = config()
    event_id = event_id_param(ctx.params)
    scope = f"of event {event_id}" if event_id else "due"
    with ctx.engine.connect() as connection:
        if not connection.execute(ANY_DUE, {"event_id": event_id}).scalar():
            # Notify is not needed for nothing: a service without a key (the embedded default) idles quietly.
            ctx.end_run(f"nothing to send ({scope})")
            return
    notify = client(cfg)
    deadline = time.monotonic() + SEND_FOR_S
    stop = threading.Event()
    counts: list[Counter] = []
    errors: list[BaseException] = []

    rate_limited = RateLimitedCount()

    def sender() -> None:
        mine: Counter = Counter()
        counts.append(mine)
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    if not send_one(ctx.engine, notify, cfg, event_id, mine, stop):
                        return
                except RateLimited as e:
                    # The row stays due; this sender waits, the others go on.
                    mine["rate_limited"] += 1
                    if rate_limited.add() > RATE_LIMITED_MAX:
                        raise NotifyUnavailable(f"{e} ({RATE_LIMITED_MAX} times in this run)") from e
                    ctx.logger.warning("%s; this sender waits %.0f s", e, RATE_LIMITED_PAUSE_S)
                    stop.wait(RATE_LIMITED_PAUSE_S)
        except BaseException as e:  # Notify down or the key refused: every sender stops
            errors.append(e)
            stop.set()

    senders = max(1, min(SENDERS, math.ceil(cfg.notify_rate_limit / cfg.notify_rate_window_s * SLOW_ANSWER_S)))
    threads = [threading.Thread(target=sender, name=f"send-message-{i}") for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = sum(counts, Counter())
    for name, n in sorted(total.items()):
        ctx.count(name, n)
    if errors:
        if total["sent"] or total["errors"]:
            # The runtime keeps no counts of a failed attempt; the rows keep their outcomes, the log says so.
            ctx.logger.warning(
                "this attempt fails after %d sent and %d errors, recorded on their rows: %s",
                total["sent"],
                total["errors"],
                errors[0],
            )
        raise errors[0]
    ctx.logger.info("notifications %s: %d sent, %d errors", scope, total["sent"], total["errors"])
    ctx.end_run(f"{total['sent']} sent, {total['errors']} errors ({scope})")


def send_one(
    engine: Engine,
    notify: NotificationsAPIClient,
    cfg: Config,
    event_id: str | None,
    counts: Counter,
    stop: threading.Event,
) -> bool:
    """Send the next due row; False when there is none."""
    # The slot is taken before the row, so no row stays locked while its sender waits; and only
    # when there is something to send, so senders at the end of the work do not wait for nothing.
    with engine.connect() as connection:
        if not connection.execute(ANY_DUE, {"event_id": event_id}).scalar():
            return False
    wait = reserve_send(engine, cfg.notify_rate_limit, cfg.notify_rate_window_s)
    if wait:
        time.sleep(wait)
    if stop.is_set():
        return False
    with engine.begin() as connection:
        row = connection.execute(DUE, {"event_id": event_id}).mappings().first()
        if row is None:
            return False
        try:
            answer = already_sent(notify, row)
            if answer is not None:
                counts["found_sent"] += 1
            else:
                answer = deliver(engine, notify, row)
        except (RowRejected, NotSendable) as e:
            source = "Notify error" if isinstance(e, RowRejected) else "Not sent"
            connection.execute(FAILED, {"id": row["id"], "log": json.dumps({"error": source, "message": str(e)})})
            connection.execute(ATTEMPT_ENDED, {"id": row["id"]})
            counts["errors"] += 1
            return True
        content = answer.get("content") or {}
        plaintext = content.get("body") if "content" in answer else answer.get("body")
        connection.execute(SENT, {"id": row["id"], "notify_id": answer.get("id"), "plaintext": plaintext})
        connection.execute(ATTEMPT_ENDED, {"id": row["id"]})
        counts["sent"] += 1
        if update_alert(connection, row):
            counts["alerts"] += 1
    return True


def already_sent(notify: NotificationsAPIClient, row: Mapping[Any, Any]) -> dict | None:
    """The notification an earlier try of this row got Notify to make, if it did.

    Only rows whose last try left no outcome (``last_attempt``, read with the
    claim) are looked up (Notify keeps notifications for 7 days, as long as a
    row stays due), so a backlog costs no extra requests.
    """
    if row["last_attempt"] is None:
        return None
    return find_by_reference(notify, row["last_attempt"])


def deliver(engine: Engine, notify: NotificationsAPIClient, row: Mapping[Any, Any]) -> dict:
    """Notify's answer to sending this row; its ``reference`` is the row's id."""
    reference = str(row["id"])
    personalisation = dict(row["personalisation"] or {})
    if row["pdf"] is not None or (row["message_ref"] or "").startswith("pdf."):
        if row["pdf"] is None:
            raise NotSendable("no PDF stored for this precompiled letter")
        # The legacy's reference, which Notify shows on its letter list.
        letter_reference = " ".join(str(p) for p in (personalisation.get("address_line_1"), reference) if p)
        return attempt(
            engine,
            row,
            letter_reference,
            notify.send_precompiled_letter_notification,
            reference=letter_reference,
            pdf_file=io.BytesIO(bytes(row["pdf"])),
        )
    template = row["template_id"] or LEGACY_TEMPLATES.get(row["message_ref"] or "")
    if not template:
        raise NotSendable(f"no Notify template for message_ref {row['message_ref']!r}")
    if row["message_type"] == "email":
        return attempt(
            engine,
            row,
            reference,
            notify.send_email_notification,
            email_address=row["recipient"],
            template_id=template,
            personalisation=personalisation,
            reference=reference,
        )
    if row["message_type"] == "letter":
        return attempt(
            engine,
            row,
            reference,
            notify.send_letter_notification,
            template_id=template,
            personalisation=personalisation,
            reference=reference,
        )
    raise NotSendable(f"message type {row['message_type']!r} cannot be sent")


def attempt(engine: Engine, row: Mapping[str, Any], noted_as: str, send: Any, **kwargs: Any) -> dict:
    """Send, with a committed note of the try beside the row's lock, so a try whose outcome is lost is known.

    Notify answering with an error means it made nothing: the note goes
    (a 400's goes with the row's outcome). No answer leaves it for the lookup.
    """
    with engine.begin() as connection:
        connection.execute(ATTEMPT, {"id": row["id"], "reference": noted_as})
    try:
        return call(send, **kwargs)
    except NotifyUnavailable as e:
        if isinstance(e.__cause__, APIError) and e.__cause__.response is not None:
            with engine.begin() as connection:
                connection.execute(ATTEMPT_ENDED, {"id": row["id"]})
        raise


def update_alert(connection: Connection, row: Mapping[Any, Any]) -> bool:
    """A water abstraction alert Notify accepted: its gauging station now has the alert's status."""
    if "water_abstraction_alert" not in (row["message_ref"] or ""):
        return False
    personalisation = row["personalisation"] or {}
    station = row["licence_gauging_station_id"] or personalisation.get("licenceGaugingStationId")
    status = personalisation.get("sending_alert_type")
    try:
        station = str(uuid.UUID(str(station)))
    except ValueError:
        return False
    if not status:
        return False
    return connection.execute(ALERT, {"id": station, "status": status}).rowcount > 0
