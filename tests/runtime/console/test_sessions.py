"""The console's signed session cookie (runtime/console/sessions.py)."""

import time

from wrls_actors.runtime.console import sessions
from wrls_actors.runtime.console.sessions import Session

KEY = sessions.session_key("a secret of more than thirty-two characters")


def test_a_cookie_reads_back_as_the_session_it_was_made_from():
    session = Session.signed_in("jo")
    assert sessions.decode(sessions.encode(session, KEY), KEY) == session


def test_a_cookie_signed_with_another_key_or_altered_reads_as_none():
    cookie = sessions.encode(Session.signed_in("jo"), KEY)
    other = sessions.session_key("another secret of more than thirty-two chars")
    payload, signature = cookie.split(".")
    forged_payload = sessions.encode(Session.signed_in("admin"), other).split(".")[0]
    for bad in (cookie[:-2], f"{forged_payload}.{signature}", "", "x" * 2000, "a.b.c", "no-dot"):
        assert sessions.decode(bad, KEY) is None, bad
    assert sessions.decode(cookie, other) is None


def test_a_session_ends_after_its_lifetime():
    session = Session.signed_in("jo")
    cookie = sessions.encode(session, KEY)
    assert sessions.decode(cookie, KEY, now=time.time() + sessions.LIFETIME_S - 5) == session
    assert sessions.decode(cookie, KEY, now=time.time() + sessions.LIFETIME_S + 5) is None


def test_the_session_key_is_not_the_api_secret_and_each_sign_in_has_a_new_csrf_token():
    secret = "a secret of more than thirty-two characters"
    assert sessions.session_key(secret) != secret.encode()
    assert Session.signed_in("jo").csrf != Session.signed_in("jo").csrf
    assert sessions.same_token(Session(user="jo", csrf="abc", issued_at=0), "abc")
    assert not sessions.same_token(Session(user="jo", csrf="abc", issued_at=0), "abd")
    assert not sessions.same_token(Session(user="jo", csrf="abc", issued_at=0), None)
