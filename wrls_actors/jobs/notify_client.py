"""GOV.UK Notify for the notification jobs (send-message, check-status): the
official client, Notify's errors sorted by what to do about them, and the
send-rate limiter every worker shares.

Notify's answers, and what they mean here:

- 400 (ValidationError, BadRequestError): this one message is wrong (address,
  template, personalisation); asking again gets the same answer. Recorded on
  the row (``RowRejected``).
- 401/403 (AuthError): the key is wrong; no message can go until it is fixed.
  The run fails (``PermanentError``), rows are left as they were.
- 429 for the rate limit: wait a moment and go on (``RateLimited``).
- 429 for the daily limit, 5xx, no answer: try later (``NotifyUnavailable``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient
from sqlalchemy import Engine, text

from ..config import Config
from ..runtime import PermanentError
from .errors import JobError, ServiceUnavailable

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
API_KEY = re.compile(rf"^.+-({UUID})-({UUID})$")

# Requests that take longer than this are given up (and retried later): one slow
# answer must not hold a sender for the client's default 30 s.
TIMEOUT_S = 10


class NotifyUnavailable(ServiceUnavailable):
    """Notify did not take the request this time (rate limit, its own error, no answer): retry later."""


class RateLimited(NotifyUnavailable):
    """Notify's rate limit (429 ``RateLimitError``): a moment's wait, not a failure. Its daily limit
    (429 ``TooManyRequestsError``) is a plain NotifyUnavailable: it lasts until midnight."""


class RowRejected(JobError):
    """Notify refused this message for good (a 400): Notify's own words are the message."""


def check_api_key(key: str | None) -> str:
    """Notify keys are ``<name>-<service id>-<secret>``; the client slices them blindly, so check first.

    Returns the key, trimmed; the message never contains it.
    """
    if not key or not key.strip():
        raise PermanentError("WRLS_NOTIFY_API_KEY is not set")
    if not API_KEY.match(key.strip()):
        raise PermanentError("WRLS_NOTIFY_API_KEY is not a GOV.UK Notify API key (<name>-<service id>-<secret id>)")
    return key.strip()


def client(config: Config) -> NotificationsAPIClient:
    return NotificationsAPIClient(
        check_api_key(config.notify_api_key), base_url=config.notify_base_url, timeout=TIMEOUT_S
    )


def describe(error: APIError) -> str:
    message = error.message
    if isinstance(message, list):
        message = "; ".join(f"{e.get('error')}: {e.get('message')}" if isinstance(e, dict) else str(e) for e in message)
    if error.response is None and error.__cause__ is not None:
        message = f"{message} ({type(error.__cause__).__name__}: {error.__cause__})"
    return f"GOV.UK Notify answered {error.status_code}: {message}"


def notify_messages(error: APIError) -> str:
    """Notify's own ``message`` texts, as the row's log keeps them."""
    if isinstance(error.message, list):
        return "; ".join(str(e.get("message")) if isinstance(e, dict) else str(e) for e in error.message)
    return str(error.message)


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except APIError as e:
        status = e.status_code
        if status in (401, 403):
            raise PermanentError(describe(e)) from e
        if 400 <= status < 500 and status != 429:
            raise RowRejected(notify_messages(e)) from e
        if status == 429 and _error_names(e) == {"RateLimitError"}:
            raise RateLimited(describe(e)) from e
        raise NotifyUnavailable(describe(e)) from e


def _error_names(error: APIError) -> set[str | None]:
    return {e.get("error") for e in error.message if isinstance(e, dict)} if isinstance(error.message, list) else set()


def find_by_reference(notify: NotificationsAPIClient, reference: str, template_type: str | None = None) -> dict | None:
    """The notification Notify made for a request with this reference (it keeps them for 7 days), or None."""
    found = call(notify.get_all_notifications, template_type=template_type, reference=reference)
    notifications = [n for n in (found or {}).get("notifications", []) if n.get("reference") == reference]
    return notifications[0] if notifications else None


# -- the shared rate limit ------------------------------------------------------------------------------------

LIMITER_KEY = "notify-send-slots"

# Each send reserves the next free slot on one shared row: slots are ``(window +
# ARRIVAL_SPREAD_S) / limit`` seconds apart, so no window ever holds more than
# ``limit`` sends, whichever worker makes them. The row is locked only for this
# one statement, and the clock is the database's, so workers on different
# machines agree on it.
#
# Notify counts a send when it arrives, some milliseconds after its slot, more
# for the first sends of a run (bench/notifications.py: up to ~160 ms). With
# slots exactly window / limit apart, a late send and an early one ``limit``
# sends later fell in one window: 3,003 sends in 60 s and six 429s per 10,000.
# Spreading ``limit`` slots over one more second absorbs a second of such
# jitter, for 98.4% of Notify's 3,000 a minute.
ARRIVAL_SPREAD_S = 1.0
RESERVE = text("""
INSERT INTO water.application_state (key, data)
VALUES (:key, jsonb_build_object('next', extract(epoch FROM clock_timestamp()) + :gap))
ON CONFLICT (key) DO UPDATE SET
  data = jsonb_build_object('next', greatest((application_state.data->>'next')::float8,
                                             extract(epoch FROM clock_timestamp())) + :gap),
  date_updated = now()
RETURNING (data->>'next')::float8 - :gap - extract(epoch FROM clock_timestamp()) AS wait_s
""")


def reserve_send(engine: Engine, limit: int, window_s: float) -> float:
    """Reserve one send; how many seconds to wait before making it (0 when its slot has come)."""
    if limit < 1 or window_s <= 0:
        raise PermanentError("WRLS_NOTIFY_RATE_LIMIT and WRLS_NOTIFY_RATE_WINDOW_S must be at least 1")
    with engine.begin() as connection:
        wait = connection.execute(
            RESERVE, {"key": LIMITER_KEY, "gap": (window_s + ARRIVAL_SPREAD_S) / limit}
        ).scalar_one()
    return max(0.0, float(wait))
