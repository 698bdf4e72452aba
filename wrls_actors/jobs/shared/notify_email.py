"""The one-email jobs' Notify calls (the tracker, check-for-updated-invoice-accounts): those of
``notify_client``, except that a 400 fails the run, since the email is the run's whole work.

The legacy posted to the water service's ``/notify/email`` without awaiting it
(``src/lib/services/notify.js``), so a Notify failure lost the email and the
rejected promise crashed the process. Here a failure fails the step: a
temporary one (429, 5xx, no answer) is retried, one Notify will answer the
same way again (a bad key, template or address) fails at once with Notify's
own message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient

from ...runtime import PermanentError
from .. import notify_client
from ..notify_client import NotifyUnavailable, RowRejected, check_api_key, client, describe

__all__ = ["NotifyUnavailable", "check_api_key", "client", "find_by_reference", "send_email"]


@contextmanager
def _a_400_fails_the_run() -> Iterator[None]:
    try:
        yield
    except RowRejected as e:
        cause = e.__cause__
        raise PermanentError(describe(cause) if isinstance(cause, APIError) else str(e)) from cause


def find_by_reference(notify: NotificationsAPIClient, reference: str) -> dict | None:
    """An email already sent with this reference (Notify keeps them for 7 days), or None."""
    with _a_400_fails_the_run():
        return notify_client.find_by_reference(notify, reference, template_type="email")


def send_email(
    notify: NotificationsAPIClient, to: str, template_id: str, personalisation: Mapping[str, Any], reference: str
) -> dict:
    """Send one email; Notify's answer (its ``id`` names the notification)."""
    with _a_400_fails_the_run():
        return notify_client.call(
            notify.send_email_notification,
            email_address=to,
            template_id=template_id,
            personalisation=dict(personalisation),
            reference=reference,
        )
