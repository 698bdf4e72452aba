"""The tracker's Notify calls against the fake: which answers retry, which fail at once, the lookup
by reference, and the fake's own checks of the client's token."""

from __future__ import annotations

import time

import jwt
import pytest
import requests

from tests.jobs.tracker.conftest import RECIPIENT, TEMPLATE
from tests.support.notify import (
    AUTH_ERROR,
    DAILY_LIMIT_ERROR,
    RATE_LIMIT_ERROR,
    SERVER_ERROR,
    TEAM_KEY_ERROR,
    FakeNotify,
)
from wrls_actors.config import Config
from wrls_actors.jobs.shared import notify_email as tracker_notify
from wrls_actors.jobs.shared.notify_email import NotifyUnavailable, check_api_key, find_by_reference, send_email
from wrls_actors.runtime import PermanentError


def client_of(fake: FakeNotify, key: str | None = None):
    return tracker_notify.client(
        Config.from_env({"WRLS_NOTIFY_API_KEY": key or fake.api_key, "WRLS_NOTIFY_BASE_URL": fake.base_url + "/"})
    )


def send(client, reference="ref-1", to=RECIPIENT):
    return send_email(client, to, TEMPLATE, {"content": "hello"}, reference)


def test_the_key_is_checked_and_never_shown():
    with pytest.raises(PermanentError, match="WRLS_NOTIFY_API_KEY is not set"):
        check_api_key(None)
    with pytest.raises(PermanentError, match="is not a GOV.UK Notify API key") as refused:
        check_api_key("my-secret-key-1234")
    assert "my-secret-key-1234" not in str(refused.value)
    config = Config.from_env({"WRLS_NOTIFY_API_KEY": "live-00000000-0000-0000-0000-000000000000-secret"})
    assert "secret" not in repr(config)
    assert Config.from_env({}).tracker_template_id == TEMPLATE


def test_an_email_is_sent_and_found_again_by_its_reference(notify):
    client = client_of(notify)
    assert find_by_reference(client, "ref-1") is None
    accepted = send(client)
    found = find_by_reference(client, "ref-1")
    assert found["id"] == accepted["id"] and found["email_address"] == RECIPIENT
    assert find_by_reference(client, "ref-2") is None
    [post] = notify.received("POST", "/v2/notifications/email")
    assert post.claims["iss"] == notify.service_id
    assert post.body == {
        "email_address": RECIPIENT,
        "template_id": TEMPLATE,
        "personalisation": {"content": "hello"},
        "reference": "ref-1",
    }


@pytest.mark.parametrize("error", [SERVER_ERROR, RATE_LIMIT_ERROR, DAILY_LIMIT_ERROR])
def test_temporary_answers_are_worth_a_retry(notify, error):
    notify.fail(error)
    with pytest.raises(NotifyUnavailable, match=f"answered {error.status}: {error.error}: "):
        send(client_of(notify))
    send(client_of(notify))  # answered once only
    assert len(notify.emails()) == 1


def test_no_answer_is_worth_a_retry():
    fake = FakeNotify().start()
    client = client_of(fake)
    fake.stop()
    with pytest.raises(NotifyUnavailable, match="ConnectionError"):
        send(client)


@pytest.mark.parametrize("error", [TEAM_KEY_ERROR, AUTH_ERROR])
def test_answers_notify_would_give_again_fail_at_once(notify, error):
    notify.fail(error)
    with pytest.raises(PermanentError, match=f"answered {error.status}: {error.error}: {error.message}"):
        send(client_of(notify))


def test_the_fake_checks_the_address_the_template_and_its_personalisation(notify):
    client = client_of(notify)
    with pytest.raises(PermanentError, match="ValidationError: email_address Not a valid email address"):
        send(client, to="not-an-address")
    with pytest.raises(PermanentError, match="Template not found"):
        send_email(client, RECIPIENT, "00000000-0000-0000-0000-000000000000", {"content": "x"}, "r")
    with pytest.raises(PermanentError, match="Missing personalisation: content"):
        send_email(client, RECIPIENT, TEMPLATE, {}, "r")
    assert notify.emails() == []


def test_the_fake_refuses_a_token_not_signed_with_the_key_or_not_issued_now(notify):
    other_secret = f"wrls_test-{notify.service_id}-00000000-0000-0000-0000-000000000000"
    with pytest.raises(PermanentError, match="403: AuthError: Invalid token: API key not found"):
        send(client_of(notify, other_secret))
    stale = jwt.encode({"iss": notify.service_id, "iat": int(time.time()) - 120}, notify.secret, algorithm="HS256")
    answer = requests.get(
        f"{notify.base_url}/v2/notifications", headers={"Authorization": f"Bearer {stale}"}, timeout=10
    )
    assert answer.status_code == 403
    assert answer.json()["errors"] == [
        {"error": "AuthError", "message": "Error: Your system clock must be accurate to within 30 seconds"}
    ]
    assert requests.get(f"{notify.base_url}/v2/notifications", timeout=10).status_code == 401
    assert [r.claims for r in notify.requests] == [None, None, None]
