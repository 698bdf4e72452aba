"""Signing in and out of the console (runtime/console/logins.py, sessions in web.py), against a real `api` process."""

import httpx

from tests.support.console import OPERATOR, VIEWER, csrf_of, signed_in
from tests.support.helpers import query
from wrls_actors.runtime import accounts


def _login(client: httpx.Client, name: str, password: str, **extra) -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"csrf": token, "name": name, "password": password, **extra})


def test_a_page_sends_a_stranger_to_sign_in_and_back_after(console):
    with httpx.Client(base_url=console.base) as client:
        answer = client.get("/runs?job=fan&status=failed")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=%2Fruns%3Fjob%3Dfan%26status%3Dfailed"

        signed = _login(client, *OPERATOR, next="/runs?job=fan&status=failed")

        assert signed.status_code == 303
        assert signed.headers["location"] == "/runs?job=fan&status=failed"
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        assert client.get("/runs?job=fan&status=failed").status_code == 200


def test_after_signing_in_only_a_path_on_this_site_is_followed(console):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        with httpx.Client(base_url=console.base) as client:
            assert _login(client, *OPERATOR, next=target).headers["location"] == "/", target


def test_a_wrong_password_is_refused_recorded_and_after_five_the_name_is_locked_for_a_while(console, service):
    with httpx.Client(base_url=console.base) as client:
        for _ in range(5):
            refused = _login(client, OPERATOR[0], "not the password")
            assert refused.status_code == 401
            assert "Wrong name or password." in refused.text
        locked = _login(client, *OPERATOR)  # the right password, too late
        assert locked.status_code == 429
        assert locked.headers["retry-after"] == "900"
        assert "Too many failed sign-ins" in locked.text
    rows = query(service, "SELECT kind, operator, detail FROM jobs.events WHERE kind LIKE 'sign-in%' ORDER BY id")
    assert [tuple(r) for r in rows] == [("sign-in-failed", OPERATOR[0], "from 127.0.0.1")] * 5
    # Another account is not locked by the first one's failures.
    other = signed_in(console.base, *VIEWER)
    assert other.get("/").status_code == 200
    other.close()


def test_an_unknown_name_is_answered_as_a_wrong_password_and_no_password_is_ever_recorded(console, service):
    with httpx.Client(base_url=console.base) as client:
        refused = _login(client, "nobody.here", "a password 1234")
    assert refused.status_code == 401 and "Wrong name or password." in refused.text
    stored = query(
        service, "SELECT coalesce(string_agg(coalesce(operator, '') || detail, ' '), '') AS all FROM jobs.events"
    )
    assert "a password 1234" not in stored[0].all


def test_signing_out_ends_the_session_and_a_forged_or_altered_cookie_is_a_stranger(console):
    client = signed_in(console.base, *OPERATOR)
    cookie = client.cookies["wrls_console"]
    payload, signature = cookie.split(".")
    with httpx.Client(base_url=console.base, cookies={"wrls_console": payload + "." + signature[::-1]}) as forged:
        assert forged.get("/").status_code == 303

    out = client.post("/logout", data={"csrf": client.csrf})

    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert client.get("/").status_code == 303
    client.close()


def test_a_removed_account_is_signed_out_and_a_changed_role_applies_at_once(console, service):
    client = signed_in(console.base, *OPERATOR)
    run_id = service.trigger("long-step", {"seconds": 30})
    accounts.set_(service.engine, OPERATOR[0], "viewer", OPERATOR[1])
    refused = client.post(f"/runs/{run_id}/cancel", data={"csrf": client.csrf, "reason": "now a viewer"})
    assert refused.status_code == 403

    accounts.remove(service.engine, OPERATOR[0])

    assert client.get("/").status_code == 303
    client.close()


def test_the_login_form_needs_its_csrf_token(console):
    with httpx.Client(base_url=console.base) as client:
        client.get("/login")
        refused = client.post("/login", data={"name": OPERATOR[0], "password": OPERATOR[1]})
        assert refused.status_code == 403
        assert client.get("/").status_code == 303
