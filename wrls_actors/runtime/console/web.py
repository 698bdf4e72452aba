"""What every console page shares: who is visiting, the templates, the security headers, the refusals.

Pages are rendered on the server and work without JavaScript; htmx (served
from /static, never a CDN) only refreshes parts of them. The Content-Security-
Policy allows no inline script or style, so no page may carry one.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import text
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..service import Service
from . import sessions, words
from .sessions import Session

logger = logging.getLogger("wrls_actors.console")

HERE = Path(__file__).parent
STATIC = HERE / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
MAX_FORM_FIELDS = 50


class Refused(Exception):
    """A console request refused with a page: ``status`` and what to tell the operator."""

    def __init__(self, status: int, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after_s = retry_after_s


class SignInNeeded(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class Visitor:
    name: str | None  # None: not signed in
    role: str | None
    session: Session
    new_cookie: str | None  # set on the answer when the session changed

    @property
    def operator(self) -> bool:
        return self.role == "operator"


class Console:
    """The console's shared state for one service: the session key, the templates, the access rules."""

    def __init__(self, service: Service) -> None:
        settings = service.settings
        self.service = service
        self.key = sessions.session_key(settings.api_jwt_secret)
        # No secret is the embedded default on 127.0.0.1, as the API: whoever reaches it is the local operator.
        self.local = settings.api_jwt_secret is None
        self.user_header = settings.console_user_header
        self.htmx = (STATIC / "vendor" / "htmx.min.js").is_file()
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        zone = service.tz
        self.templates.filters.update(
            moment=lambda at: words.moment(at, zone),
            duration=words.duration,
            ms=lambda v: words.duration(v / 1000) if v is not None else "—",
            urlquote=lambda v: quote(str(v), safe=""),
        )
        self.templates.globals.update(
            prefix=settings.prefix.lower(), htmx=self.htmx, zone=str(zone), local_operator=self.local
        )
        if not self.htmx:
            logger.warning("console: htmx is not installed (scripts/assets.py fetches it): no live refresh")

    # -- who is visiting ---------------------------------------------------------

    def visitor(self, request: Request) -> Visitor:
        # Every handler asks who is visiting first: from here on is the page's server time (Server-Timing).
        if not hasattr(request.state, "started"):
            request.state.started = time.perf_counter()
        session = sessions.decode(request.cookies.get(sessions.COOKIE), self.key)
        fresh = session is None
        if session is None:
            session = Session.anonymous()
        name, role = None, None
        if self.local:
            name, role = "local", "operator"
        elif self.user_header and request.headers.get(self.user_header):
            # The proxy has signed the user in: its header names them, whatever the cookie says.
            name = request.headers[self.user_header].strip().lower()
            account = self._account(name)
            role = account.role if account else None
        elif session.user is not None:
            account = self._account(session.user)
            ended = account is not None and account.sessions_valid_after is not None
            if account is not None and not (ended and session.issued_at < account.sessions_valid_after.timestamp()):
                name, role = session.user, account.role
        if role is None:
            name = None
        if name != session.user:
            session = Session.signed_in(name) if name else Session.anonymous()
            fresh = True
        cookie = sessions.encode(session, self.key) if fresh else None
        return Visitor(name, role, session, cookie)

    def proxied(self, request: Request) -> bool:
        """Whether the authenticating proxy named who this is (only where a setting names its header):
        such a visitor is signed in and out by the proxy, not by the console."""
        return bool(self.user_header and request.headers.get(self.user_header))

    def _account(self, name: str) -> Any:
        """The account's role and when its sessions were last ended; None if there is no such account."""
        with self.service.engine.connect() as connection:
            return connection.execute(
                text("SELECT role, sessions_valid_after FROM jobs.users WHERE name = :n"), {"n": name[:100]}
            ).first()

    def signed_in(self, request: Request) -> Visitor:
        visitor = self.visitor(request)
        if visitor.name is None:
            raise SignInNeeded()
        return visitor

    async def acting(self, request: Request) -> tuple[Visitor, dict[str, str]]:
        """An operator's POST: signed in, of the operator role, with this session's CSRF token. The form's fields."""
        visitor = self.signed_in(request)
        form = await read_form(request)
        self.check_csrf(request, visitor.session, form)
        if not visitor.operator:
            raise Refused(403, f"{visitor.name} is a viewer: only an operator may do this")
        return visitor, form

    def check_csrf(self, request: Request, session: Session, form: Mapping[str, str]) -> None:
        offered = form.get("csrf") or request.headers.get("x-csrf-token")
        if not sessions.same_token(session, offered):
            raise Refused(403, "this form has expired or did not come from this console; reload the page and try again")
        origin = request.headers.get("origin")
        if origin and not _same_origin(origin, request):
            raise Refused(403, "this form was sent from another site")

    # -- answers -----------------------------------------------------------------

    def page(
        self, request: Request, visitor: Visitor | None, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        started = getattr(request.state, "started", None) or time.perf_counter()
        html = self.templates.get_template(template).render(
            visitor=visitor,
            csrf=visitor.session.csrf if visitor else "",
            path=request.url.path,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        self.finish(request, response, visitor)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    def finish(self, request: Request, response: Response, visitor: Visitor | None) -> Response:
        response.headers.update(SECURITY_HEADERS)
        if visitor is not None and visitor.new_cookie:
            set_cookie(request, response, visitor.new_cookie)
        return response

    def redirect(self, request: Request, to: str, visitor: Visitor | None = None) -> Response:
        return self.finish(request, RedirectResponse(to, status_code=303), visitor)


def set_cookie(request: Request, response: Response, value: str) -> None:
    # Secure whenever the browser came over HTTPS (directly, or through a proxy uvicorn trusts); on plain
    # http://127.0.0.1 a Secure cookie would never come back.
    secure = request.url.scheme == "https"
    response.set_cookie(
        sessions.COOKIE,
        value,
        max_age=sessions.LIFETIME_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def _same_origin(origin: str, request: Request) -> bool:
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


async def read_form(request: Request) -> dict[str, str]:
    """A urlencoded form as a dict (the first of repeated fields); anything else is refused."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if raw and kind != "application/x-www-form-urlencoded":
        raise Refused(415, "the console takes forms (application/x-www-form-urlencoded)")
    try:
        pairs = parse_qsl(raw.decode(), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "the form is not valid") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def local_path(target: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site (`//evil`, `/\\evil`)."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or any(c in target for c in "\r\n\\")
    ):
        return "/"
    return target


def query(params: Mapping[str, Any]) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})
