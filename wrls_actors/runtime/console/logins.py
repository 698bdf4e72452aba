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
from ..service import Service
from .sessions import Session, encode
from .web import Console, Refused, local_path, read_form, set_cookie

logger = logging.getLogger("wrls_actors.console")

WINDOW_MIN = 15
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_ADDRESS = 30


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
            logger.warning(
                "console sign-in refused for %r from %s", name if accounts.NAME.fullmatch(name) else "?", address
            )
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
        response = console.redirect(request, "/login")
        set_cookie(request, response, encode(Session.anonymous(), console.key))
        return response

    return routes


def _attempt(service: Service, name: str, password: str, address: str) -> accounts.User | None:
    """The account, if the password is right and neither the name nor the address is over its limit."""
    known_name = name if accounts.NAME.fullmatch(name) else None
    with service.engine.connect() as connection:
        by_name, by_address = connection.execute(
            text(
                "SELECT count(*) FILTER (WHERE operator = :name), count(*) FILTER (WHERE detail = :address) "
                "FROM jobs.events WHERE kind = 'sign-in-failed' AND at >= now() - make_interval(mins => :window)"
            ),
            {"name": known_name, "address": f"from {address}", "window": WINDOW_MIN},
        ).one()
    if by_name >= MAX_FAILURES_PER_NAME or by_address >= MAX_FAILURES_PER_ADDRESS:
        raise Refused(429, f"Too many failed sign-ins: try again in {WINDOW_MIN} minutes.")
    user = accounts.verify(service.engine, name, password)
    kind = "signed-in" if user else "sign-in-failed"
    with service.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO jobs.events (kind, operator, detail) VALUES (:kind, :name, :address)"),
            {"kind": kind, "name": known_name, "address": f"from {address}"},
        )
    return user
