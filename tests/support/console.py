"""Signing in to the console over plain HTTP, as a browser does: the login form's CSRF token, then the cookie."""

from __future__ import annotations

import re

import httpx

from wrls_actors.runtime import accounts

OPERATOR = ("olive.operator", "operator password 1")
VIEWER = ("victor.viewer", "viewer password 12")

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def add_accounts(service) -> None:
    accounts.add(service.engine, OPERATOR[0], "operator", OPERATOR[1])
    accounts.add(service.engine, VIEWER[0], "viewer", VIEWER[1])


def signed_in(base: str, name: str, password: str) -> httpx.Client:
    """A client holding a signed-in session; ``client.csrf`` is the token its forms carry."""
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/login")
    answer = client.post("/login", data={"csrf": csrf_of(form.text), "name": name, "password": password, "next": "/"})
    assert answer.status_code == 303, answer.text
    client.csrf = csrf_of(client.get("/").text)  # type: ignore[attr-defined]
    return client
