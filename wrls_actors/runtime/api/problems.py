"""Every refusal the API gives, in one of two shapes, and never a stack trace.

``/api/v1`` and the health routes answer a ``Problem`` (models.py). The legacy
routes answer as hapi's Boom did, ``{"statusCode", "error", "message"}``, so
their callers read errors as they always have. The reason of every refusal is
left on the request for the access log (guard.py), which logs it without the
body.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from html import escape
from http import HTTPStatus
from typing import Any

from dramatiq.errors import BrokerConnectionError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pika.exceptions import AMQPError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ..errors import NoSuchRun
from ..runs import run_id_or_refuse
from .models import FieldProblem, Problem

logger = logging.getLogger(__name__)

CODES = {
    400: "invalid",
    401: "unauthorized",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid",
    500: "internal",
    503: "unavailable",
}


def documented(**answers: str) -> dict[int | str, dict[str, Any]]:
    """A route's refusals for its OpenAPI document: those of every route, and ``answers`` its own
    (``not_found=``, ``conflict=``: what a 404 or a 409 means there)."""
    described = {
        401: "No token, or one that is expired or wrongly signed",
        413: "The body is over 1 MiB",
        422: "A field or parameter is not valid; `fields` names each",
        503: "The database or the broker is unreachable",
    }
    if "not_found" in answers:
        described[404] = answers["not_found"]
    if "conflict" in answers:
        described[409] = answers["conflict"]
    return {status: {"model": Problem, "description": text} for status, text in described.items()}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        fields: Sequence[FieldProblem] = (),
        run_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = list(fields)
        self.run_id = run_id
        self.headers = headers


class BodyTooLarge(Exception):
    """Raised by the guard (guard.py) while a body arrives, once it is over the limit."""


def run_id_or_404(given: str) -> str:
    """A run id as PostgreSQL reads it (UUID() also takes urn:uuid:…, braces and non-ASCII digits, which
    PostgreSQL refused: a 500); 404 when it is no UUID at all."""
    try:
        return run_id_or_refuse(given)
    except NoSuchRun as e:
        raise ApiError(404, str(e)) from None


def versioned(path: str) -> bool:
    """Whether a path answers Problems (else it is a legacy route, answering Boom errors)."""
    return path.startswith("/api/") or path in ("/healthz", "/readyz")


def refusal(
    path: str,
    status: int,
    message: str,
    fields: Sequence[FieldProblem] = (),
    run_id: str | None = None,
    headers: dict[str, str] | None = None,
    page: bool = False,
) -> Response:
    if page and not versioned(path):
        return _page(status, message, headers)
    if versioned(path):
        body: dict[str, Any] = Problem(
            error=CODES.get(status, "refused"), message=message, fields=list(fields), run_id=run_id
        ).model_dump()
    else:
        body = {"statusCode": status, "error": HTTPStatus(status).phrase, "message": message}
    return JSONResponse(body, status_code=status, headers=headers)


def _wants_page(request: Request) -> bool:
    # A browser (the console's pages) asks for HTML; the legacy routes' callers (Jenkins, curl, scripts) do not.
    return "text/html" in request.headers.get("accept", "")


def _page(status: int, message: str, headers: dict[str, str] | None) -> HTMLResponse:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Refused"
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>'
        f'{escape(phrase)}</title><link rel="stylesheet" href="/static/console.css"></head><body><main>'
        f'<h1>{escape(phrase)}</h1><p class="problem">{escape(message)}</p><p><a href="/">Back to the overview</a></p>'
        "</main></body></html>"
    )
    answer = HTMLResponse(body, status_code=status, headers=headers)
    answer.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'self'; frame-ancestors 'none'"
    answer.headers["X-Content-Type-Options"] = "nosniff"
    return answer


def _remember(request: Request, status: int, message: str, fields: Iterable[FieldProblem] = ()) -> None:
    # Read by the access log. A message about fields may quote their values: the log has their names only.
    names = [f.field for f in fields]
    request.state.refusal = CODES.get(status, "refused") if names else f"{CODES.get(status, 'refused')}: {message}"
    request.state.refused_fields = names


def _field(location: Sequence[Any]) -> str:
    parts = [str(p) for p in location]
    return ".".join(parts) or "body"


def validation_fields(errors: Sequence[Any]) -> list[FieldProblem]:
    """FastAPI's validation errors as fields; a value is never echoed back (it may be a secret)."""
    fields = []
    for error in errors[:20]:
        location = list(error.get("loc", ()))
        fields.append(FieldProblem(field=_field(location), problem=str(error.get("msg", "invalid"))))
    return fields


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    _remember(request, exc.status, exc.message, exc.fields)
    return refusal(
        request.url.path, exc.status, exc.message, exc.fields, exc.run_id, exc.headers, page=_wants_page(request)
    )


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = validation_fields(exc.errors())
    message = "; ".join(f"{f.field}: {f.problem}" for f in fields) or "the request is not valid"
    # The legacy routes refused bad input with 400, as hapi's Joi validation did.
    status = 422 if versioned(request.url.path) else 400
    _remember(request, status, message, fields)
    return refusal(request.url.path, status, message, fields, page=_wants_page(request))


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, BodyTooLarge):
        # FastAPI reads a JSON body itself and turns any error doing so into a 400, the guard's one included.
        message = str(exc.__cause__)
        _remember(request, 413, message)
        return refusal(request.url.path, 413, message, page=_wants_page(request))
    if exc.status_code == 400 and versioned(request.url.path):
        # FastAPI's answer to a body it cannot decode at all (not UTF-8): bad JSON, 422 as the document says.
        fields = [FieldProblem(field="body", problem="not valid JSON (UTF-8)")]
        _remember(request, 422, "the body is not valid JSON", fields)
        return refusal(request.url.path, 422, "the body is not valid JSON", fields, page=_wants_page(request))
    message = {404: "no such route", 405: "method not allowed on this route"}.get(exc.status_code, str(exc.detail))
    _remember(request, exc.status_code, message)
    return refusal(
        request.url.path, exc.status_code, message, headers=dict(exc.headers or {}), page=_wants_page(request)
    )


async def _database(request: Request, exc: Exception) -> Response:
    logger.error("database unreachable answering %s %s: %s", request.method, request.url.path, exc.__class__.__name__)
    _remember(request, 503, "the database is unreachable")
    return refusal(request.url.path, 503, "the database is unreachable; try again later", page=_wants_page(request))


async def _broker(request: Request, exc: Exception) -> Response:
    logger.error("broker unreachable answering %s %s: %s", request.method, request.url.path, exc.__class__.__name__)
    _remember(request, 503, "the broker is unreachable")
    return refusal(request.url.path, 503, "the broker is unreachable; try again later", page=_wants_page(request))


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The trace goes to the service's log, never to the caller.
    logger.exception("unexpected error answering %s %s", request.method, request.url.path)
    _remember(request, 500, "internal error")
    return refusal(
        request.url.path, 500, "internal error; the service's log has the details", page=_wants_page(request)
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(OperationalError, _database)
    # A start whose first step cannot be published is recorded as failed (runs.py) and answered 503.
    app.add_exception_handler(BrokerConnectionError, _broker)
    app.add_exception_handler(AMQPError, _broker)
    app.add_exception_handler(Exception, _unexpected)
