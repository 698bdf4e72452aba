"""The operator console: server-rendered pages over the ledger, served by the API process at `/`.

See docs/console.md. ``mount`` adds its routes to the API's app.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from starlette.responses import Response

from ..service import Service
from . import actions, export, logins, pages
from .web import STATIC, Console, Refused, SignInNeeded

__all__ = ["mount"]

# Served files, by URL: only these, so no path can reach anything else in the package.
_FILES = {
    "/static/console.css": ("console.css", "text/css; charset=utf-8"),
    "/static/vendor/htmx.min.js": ("vendor/htmx.min.js", "text/javascript; charset=utf-8"),
}


def mount(app: FastAPI, service: Service) -> Console:
    console = Console(service)
    for module in (logins, pages, export, actions):
        app.include_router(module.router(service, console))
    for url, (name, media_type) in _FILES.items():
        _serve(app, console, url, name, media_type)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        request.state.refusal = exc.message
        try:
            visitor = console.visitor(request)
        except Exception:  # a page about a refusal must not fail in its turn (the database may be what is down)
            visitor = None
        response = console.page(request, visitor, "refused.html", status=exc.status, message=exc.message)
        if exc.retry_after_s is not None:
            response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    async def sign_in(request: Request, exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return console.redirect(request, f"/login?next={quote(target, safe='')}")

    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(SignInNeeded, sign_in)
    return console


def _serve(app: FastAPI, console: Console, url: str, name: str, media_type: str) -> None:
    path = STATIC / name

    def static(request: Request) -> Response:
        if not path.is_file():
            raise Refused(404, f"{name} is not installed (scripts/assets.py fetches it)")
        response = Response(path.read_bytes(), media_type=media_type)
        console.finish(request, response, None)
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    app.add_api_route(url, static, methods=["GET"], include_in_schema=False)
