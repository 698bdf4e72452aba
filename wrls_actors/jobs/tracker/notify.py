"""GOV.UK Notify through its official client, with its errors sorted into
"retry" and "retrying cannot help".

The legacy posted to the water service's ``/notify/email`` without awaiting it
(``src/lib/services/notify.js``), so a Notify failure lost the email and the
rejected promise crashed the process. Here a failure fails the step: a
temporary one (429, 5xx, no answer) is retried, one Notify will answer the
same way again (a bad key, template or address) fails at once with Notify's
own message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient

from ...config import Config
from ...runtime import PermanentError

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
API_KEY = re.compile(rf"^.+-({UUID})-({UUID})$")


class NotifyUnavailable(Exception):
    """Notify did not take the request this time (rate limit, its error, no answer): worth retrying."""


def check_api_key(key: str | None) -> None:
    """Notify keys are ``<name>-<service id>-<secret>``; the client slices them blindly, so check first.

    The message never contains the key.
    """
    if not key:
        raise PermanentError("WRLS_NOTIFY_API_KEY is not set")
    if not API_KEY.match(key.strip()):
        raise PermanentError("WRLS_NOTIFY_API_KEY is not a GOV.UK Notify API key (<name>-<service id>-<secret id>)")


def client(config: Config) -> NotificationsAPIClient:
    check_api_key(config.notify_api_key)
    return NotificationsAPIClient(config.notify_api_key.strip(), base_url=config.notify_base_url)


def _describe(error: APIError) -> str:
    message = error.message
    if isinstance(message, list):
        message = "; ".join(f"{e.get('error')}: {e.get('message')}" if isinstance(e, dict) else str(e)
                            for e in message)
    cause = error.__cause__
    if error.response is None and cause is not None:
        message = f"{message} ({type(cause).__name__}: {cause})"
    return f"GOV.UK Notify answered {error.status_code}: {message}"


def _call(fn, *args, **kwargs) -> Any:
    try:
        return fn(*args, **kwargs)
    except APIError as e:
        status = e.status_code
        # 429 (rate or daily limit) and 5xx pass; the other 4xx are the request's or the key's fault.
        if 400 <= status < 500 and status != 429:
            raise PermanentError(_describe(e)) from e
        raise NotifyUnavailable(_describe(e)) from e


def find_by_reference(notify: NotificationsAPIClient, reference: str) -> dict | None:
    """A notification already sent with this reference (Notify keeps them for 7 days), or None."""
    found = _call(notify.get_all_notifications, template_type="email", reference=reference)
    notifications = [n for n in (found or {}).get("notifications", []) if n.get("reference") == reference]
    return notifications[0] if notifications else None


def send_email(notify: NotificationsAPIClient, to: str, template_id: str, personalisation: Mapping[str, Any],
               reference: str) -> dict:
    """Send one email; Notify's answer (its ``id`` names the notification)."""
    return _call(notify.send_email_notification, email_address=to, template_id=template_id,
                 personalisation=dict(personalisation), reference=reference)
