"""Signing in and out of the console (runtime/console/logins.py, sessions in web.py), against a real `api` process."""

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.api import start_api
from tests.support.console import OPERATOR, VIEWER, add_accounts, csrf_of, signed_in
from tests.support.helpers import query, scalar
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


def test_a_wrong_password_is_refused_recorded_and_after_five_the_name_is_locked_from_that_address(console, service):
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


def test_attempts_sent_together_are_counted_one_by_one(console, service):
    def attempt(_):
        with httpx.Client(base_url=console.base) as client:
            return _login(client, OPERATOR[0], "not the password").status_code

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(attempt, range(20)))

    # Each is checked alone, or refused while another is (429): never more failures than the limit.
    assert set(answers) <= {401, 429} and 1 <= answers.count(401) <= 5
    assert scalar(service, "SELECT count(*) FROM jobs.events WHERE kind = 'sign-in-failed'") == answers.count(401)


def test_a_name_locked_from_one_address_still_signs_in_from_another_and_forwarded_addresses_need_a_setting(
    processes, service
):
    add_accounts(service)
    proxied = start_api(processes, extra_env={"WRLS_API_TRUSTED_PROXIES": "127.0.0.1"})
    with httpx.Client(base_url=proxied.base, headers={"X-Forwarded-For": "203.0.113.9"}) as far:
        for _ in range(5):
            assert _login(far, OPERATOR[0], "not the password").status_code == 401
        assert _login(far, *OPERATOR).status_code == 429
    with httpx.Client(base_url=proxied.base, headers={"X-Forwarded-For": "198.51.100.7"}) as near:
        assert _login(near, *OPERATOR).status_code == 303
    plain = start_api(processes)
    with httpx.Client(base_url=plain.base, headers={"X-Forwarded-For": "192.0.2.1"}) as spoofing:
        assert _login(spoofing, OPERATOR[0], "not the password").status_code == 401
    sources = [r.detail for r in query(service, "SELECT detail FROM jobs.events WHERE kind LIKE 'sign%' ORDER BY id")]
    assert sources == ["from 203.0.113.9"] * 5 + ["from 198.51.100.7", "from 127.0.0.1"]


def test_an_unknown_name_is_answered_as_a_wrong_password_and_only_an_accounts_name_is_kept(console, service):
    with httpx.Client(base_url=console.base) as client:
        refused = _login(client, "hunter2secretpass", "a password 1234")
    assert refused.status_code == 401 and "Wrong name or password." in refused.text
    [event] = query(service, "SELECT operator, detail FROM jobs.events WHERE kind = 'sign-in-failed'")
    assert tuple(event) == (None, "from 127.0.0.1")
    assert "hunter2secretpass" not in console.process.output()


def test_signing_out_ends_the_session_even_for_a_copy_of_its_cookie_and_a_forged_cookie_is_a_stranger(console):
    client = signed_in(console.base, *OPERATOR)
    cookie = client.cookies["wrls_console"]
    payload, signature = cookie.split(".")
    with httpx.Client(base_url=console.base, cookies={"wrls_console": payload + "." + signature[::-1]}) as forged:
        assert forged.get("/").status_code == 303

    out = client.post("/logout", data={"csrf": client.csrf})

    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert client.get("/").status_code == 303
    with httpx.Client(base_url=console.base, cookies={"wrls_console": cookie}) as stolen:
        assert stolen.get("/").status_code == 303
    client.close()
    again = signed_in(console.base, *OPERATOR)  # a new sign-in is a new session, valid
    assert again.get("/").status_code == 200
    again.close()


def test_a_new_password_or_a_removed_account_signs_out_and_a_changed_role_applies_at_once(console, service):
    client = signed_in(console.base, *OPERATOR)
    run_id = service.trigger("long-step", {"seconds": 30})
    with service.engine.begin() as connection:
        connection.exec_driver_sql(f"UPDATE jobs.users SET role = 'viewer' WHERE name = '{OPERATOR[0]}'")
    refused = client.post(f"/runs/{run_id}/cancel", data={"csrf": client.csrf, "reason": "now a viewer"})
    assert refused.status_code == 403

    accounts.set_(service.engine, OPERATOR[0], "operator", "a brand new password")

    assert client.get("/").status_code == 303
    client.close()
    viewer = signed_in(console.base, *VIEWER)
    accounts.remove(service.engine, VIEWER[0])
    assert viewer.get("/").status_code == 303
    viewer.close()


def test_the_login_form_needs_its_csrf_token(console):
    with httpx.Client(base_url=console.base) as client:
        client.get("/login")
        refused = client.post("/login", data={"name": OPERATOR[0], "password": OPERATOR[1]})
        assert refused.status_code == 403
        assert client.get("/").status_code == 303


def test_an_account_removed_and_made_again_does_not_take_over_the_old_ones_sessions(console, service):
    client = signed_in(console.base, *VIEWER)
    accounts.remove(service.engine, VIEWER[0])
    accounts.add(service.engine, VIEWER[0], "operator", "the new holder's password")

    assert client.get("/").status_code == 303
    client.close()
