"""check-status.check: ask GOV.UK Notify what became of the notifications sent.

Due (as the legacy ``notifications.checkStatus``): rows ``sent`` with a
``notify_id``, ``send_after`` within the last 7 days, no final
``notify_status`` yet (delivered, received, permanent-failure,
technical-failure) and ``next_status_check`` unset or past. Each check stores
``notify_status``, adds one to ``status_checks`` and sets the next check on the
legacy's backoff from ``send_after``: emails (n+1)² minutes (1, 4, 9, 16...),
letters every 12 hours, anything else the next tick.

Unlike the legacy, which polled every due row at once every 15 s: at most
``WRLS_NOTIFY_STATUS_CHECKS`` rows a tick, those waiting longest first; a
notification Notify does not know (404, 400) moves on to its next check
instead of being asked again every tick; a 429, 5xx or no answer stops the
tick (the rows stay due), a 403 fails it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from notifications_python_client.notifications import NotificationsAPIClient
from sqlalchemy import Engine, text

from ...config import config
from ...runtime import StepContext
from ..notify_client import RowRejected, call, client

# Requests in flight at once: a tick's checks end well within its 15 seconds.
CHECKERS = 4

FINAL = ("permanent-failure", "technical-failure", "delivered", "received")

DUE = text("""
SELECT id, notify_id FROM water.scheduled_notification
WHERE status = 'sent' AND notify_id IS NOT NULL AND send_after > now() - interval '7 days'
  AND (notify_status IS NULL OR notify_status <> ALL(:final))
  AND (next_status_check IS NULL OR next_status_check <= now())
ORDER BY next_status_check NULLS FIRST, send_after
LIMIT :limit
""")

# n is the checks made before this one (null counts as 0); SET reads the row's old values.
CHECKED = text("""
UPDATE water.scheduled_notification SET
  notify_status = coalesce(:notify_status, notify_status),
  status_checks = coalesce(status_checks, 0) + 1,
  next_status_check = coalesce(send_after, now()) + CASE message_type
    WHEN 'email' THEN (coalesce(status_checks, 0) + 1) * (coalesce(status_checks, 0) + 1) * interval '1 minute'
    WHEN 'letter' THEN 12 * (coalesce(status_checks, 0) + 1) * interval '1 hour'
    ELSE interval '0' END,
  updated_at = now()
WHERE id = :id
""")


def check_statuses(ctx: StepContext) -> None:
    cfg = config()
    with ctx.engine.connect() as connection:
        rows = connection.execute(DUE, {"final": list(FINAL), "limit": cfg.notify_status_checks}).mappings().all()
    if not rows:
        # Notify is not needed for nothing: a service without a key (the embedded default) idles quietly.
        ctx.end_run("no statuses due")
        return
    notify = client(cfg)
    stop = threading.Event()
    counts: Counter = Counter()
    lock = threading.Lock()

    def check(row: Mapping[str, Any]) -> None:
        if stop.is_set():
            return
        try:
            outcome = check_one(ctx.engine, notify, row)
        except BaseException:
            stop.set()  # Notify unwell or the key refused: no point asking for the rest
            raise
        with lock:
            counts[outcome] += 1

    with ThreadPoolExecutor(CHECKERS, thread_name_prefix="check-status") as pool:
        futures = [pool.submit(check, row) for row in rows]
    errors = [e for f in futures if (e := f.exception()) is not None]
    for name, n in sorted(counts.items()):
        ctx.count(name, n)
    if errors:
        raise errors[0]
    ctx.end_run(f"{counts['checked']} statuses checked, {counts['unknown']} unknown to Notify")


def check_one(engine: Engine, notify: NotificationsAPIClient, row: Mapping[str, Any]) -> str:
    try:
        status = call(notify.get_notification_by_id, row["notify_id"]).get("status")
        outcome = "checked"
    except RowRejected:
        status, outcome = None, "unknown"
    with engine.begin() as connection:
        connection.execute(CHECKED, {"id": row["id"], "notify_status": status})
    return outcome
