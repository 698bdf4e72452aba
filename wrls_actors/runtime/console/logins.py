"""Signing in and out: a password checked against the ledger's accounts, failures counted and slowed.

Failed sign-ins are events in the ledger (kind ``sign-in-failed``, the name
tried and the caller's address), so the limit holds across every API
process and survives a restart, and ops can see an attack in the ledger.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text
from starlette.responses import Response

from .. import accounts
from ..database import record_action
from ..service import Service
from .sessions import Session, encode
from .web import Console, Refused, local_path, read_form, set_cookie

logger = logging.getLogger("wrls_actors.console")

WINDOW_MIN = 15
# Per name from one address: a person mistyping. Per address: one client trying many names. Per name from
# anywhere: a backstop against many addresses guessing one password; high, so a stranger locking someone out
# needs many attempts (and each is in the ledger with its address).
MAX_FAILURES_PER_NAME_AND_ADDRESS = 5
MAX_FAILURES_PER_ADDRESS = 30
MAX_FAILURES_PER_NAME = 100


def router(service: Service, console: Console) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/login")
    def login_form(request: Request) -> Response:
        visitor = console.visitor(request)
        target = local_path(request.query_params.get("next"))
        if visitor.name is not None:
            return console.redirect(request, target, visitor)
        return console.page(request, visitor, "login.html", target=target, problem=None, name="")

    @routes.post("/login")
    async def login(request: Request) -> Response:
        visitor = console.visitor(request)
        form = await read_form(request)
        console.check_csrf(request, visitor.session, form)
        target = local_path(form.get("next"))
        if visitor.name is not None:
            return console.redirect(request, target, visitor)
        name = form.get("name", "").strip().lower()[:100]
        password = form.get("password", "")
        address = request.client.host if request.client else "unknown"
        user = await run_in_threadpool(_attempt, service, name, password, address)
        if user is None:
            return console.page(
                request, visitor, "login.html", status=401, target=target, name=name,
                problem="Wrong name or password.",
            )  # fmt: skip
        logger.info("console sign-in: %s from %s", user.name, address)
        response = console.redirect(request, target)
        set_cookie(request, response, encode(Session.signed_in(user.name), console.key))
        return response

    @routes.post("/logout")
    async def logout(request: Request) -> Response:
        visitor = console.visitor(request)
        form = await read_form(request)
        console.check_csrf(request, visitor.session, form)
        if visitor.name is not None and not console.local and not console.proxied(request):
            # The cookie would stay valid until it expires: the ledger says no session from before now counts.
            await run_in_threadpool(accounts.end_sessions, service.engine, visitor.name)
        response = console.redirect(request, "/login")
        set_cookie(request, response, encode(Session.anonymous(), console.key))
        return response

    return routes


def _attempt(service: Service, name: str, password: str, address: str) -> accounts.User | None:
    """The account, if the password is right and this name and address are within their limits.

    One attempt at a time per address (a PostgreSQL lock held while the
    password is checked; one sent meanwhile is refused, 429), so attempts sent
    together cannot all be counted as the first: the limits hold across
    requests and API processes.
    """
    source = f"from {address}"
    with service.engine.begin() as connection:
        # A try, not a wait: attempts queued behind the lock would each hold a pooled connection.
        locked = connection.execute(
            text("SELECT pg_try_advisory_xact_lock(hashtext(:key))"), {"key": f"sign-in {source}"}
        ).scalar()
        if not locked:
            raise Refused(429, "Another sign-in from this address is being checked: try again.", retry_after_s=1)
        # The name tried is kept only if it is an account's: a password typed in the name field is not.
        known = accounts.NAME.fullmatch(name) is not None and (
            connection.execute(text("SELECT 1 FROM jobs.users WHERE name = :n"), {"n": name}).first() is not None
        )
        pair, by_address, by_name = connection.execute(
            text(
                "SELECT count(*) FILTER (WHERE operator = :name AND detail = :source), "
                "count(*) FILTER (WHERE detail = :source), count(*) FILTER (WHERE operator = :name) "
                "FROM jobs.events WHERE kind = 'sign-in-failed' AND at >= now() - make_interval(mins => :window)"
            ),
            {"name": name if known else None, "source": source, "window": WINDOW_MIN},
        ).one()
        if (
            pair >= MAX_FAILURES_PER_NAME_AND_ADDRESS
            or by_address >= MAX_FAILURES_PER_ADDRESS
            or by_name >= MAX_FAILURES_PER_NAME
        ):
            raise Refused(
                429, f"Too many failed sign-ins: try again in {WINDOW_MIN} minutes.", retry_after_s=WINDOW_MIN * 60
            )
        user = accounts.verify(service.engine, name, password)
        record_action(
            connection, "signed-in" if user else "sign-in-failed", operator=name if known else None, detail=source
        )
    if user is None:
        logger.warning("console sign-in refused for %s %s", name if known else "a name that is no account", source)
    return user
