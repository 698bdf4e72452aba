"""The API assembled for one service: guard, error shapes, health, /api/v1 and the trigger routes."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import Response

from ..console import mount as mount_console
from ..errors import AlreadyRunning, BadMessage, JobRefused
from ..service import Service
from . import actions, health, problems, v1
from .auth import Unauthorized, verify
from .guard import Guard
from .models import FieldProblem
from .problems import ApiError
from .trigger_route import RouteInput, RouteInputError, TriggerRoute

logger = logging.getLogger("wrls_actors.api")

OPENAPI_URL = "/api/v1/openapi.json"
LOCAL_HOSTS = ["127.0.0.1", "localhost"]
_bearer = HTTPBearer(auto_error=False, description="An HS256 JWT signed with the service's API secret.")


class Access:
    """Who may call: everyone holding a token signed with ``secret``; everyone at all when it is None
    (the embedded default on 127.0.0.1); and, when ``open_job_routes``, anyone on the openable routes."""

    def __init__(self, secret: str | None, open_job_routes: bool) -> None:
        self.secret = secret
        self.open_job_routes = open_job_routes

    def check(self, request: Request, openable: bool = False) -> None:
        """Refuses with 401, or leaves on the request who is calling (``operator``): the token's subject."""
        if self.secret is None:
            request.state.operator = "local"
            return
        if openable and self.open_job_routes:
            request.state.operator = "open route"
            return
        try:
            claims = verify(request.headers.get("authorization"), self.secret)
        except Unauthorized as e:
            raise ApiError(401, str(e), headers={"WWW-Authenticate": "Bearer"}) from None
        subject = claims.get("sub")
        request.state.operator = subject[:100] if isinstance(subject, str) and subject.strip() else "token"


def build_app(service: Service, routes: Sequence[TriggerRoute] = ()) -> FastAPI:
    settings = service.settings
    access = Access(settings.api_jwt_secret, settings.api_open_job_routes)

    # async: checking a token is a little CPU and no I/O, not worth a hop through the thread pool per request.
    async def authenticated(
        request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> None:
        access.check(request)

    app = FastAPI(
        title=f"{settings.prefix.lower()}-actors",
        version="1",
        description="Start jobs, read runs and schedules. Every route needs `Authorization: Bearer <JWT>` "
        "(HS256) except /healthz and /readyz.",
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
    )
    problems.install(app)
    app.include_router(health.router(service))
    app.include_router(v1.router(service), prefix="/api/v1", dependencies=[Depends(authenticated)])
    app.include_router(actions.router(service), prefix="/api/v1", dependencies=[Depends(authenticated)])
    for route in routes:
        _add_trigger(app, service, access, route)
    mount_console(app, service)
    if settings.api_jwt_secret is None:
        # No secret: whoever reaches the API is trusted, which only holds for callers on this machine. A web
        # page elsewhere could still reach 127.0.0.1 by DNS rebinding (its own name made to point here): such a
        # request names the attacker's host, so only this machine's own names are answered.
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=LOCAL_HOSTS)
    app.add_middleware(Guard)
    return app


def _add_trigger(app: FastAPI, service: Service, access: Access, route: TriggerRoute) -> None:
    if route.job not in service.jobs:
        raise ValueError(f"trigger route {route.method} {route.path}: no job {route.job!r}")

    async def trigger(request: Request) -> Response:
        access.check(request, route.openable)
        values = RouteInput(query=dict(request.query_params), body=await _body(request))
        try:
            params = route.params(values)
        except RouteInputError as e:
            raise ApiError(400, f"{e.field} {e.problem}", [FieldProblem(field=e.field, problem=e.problem)]) from None
        try:
            run_id = await run_in_threadpool(service.trigger, route.job, params, trigger="http")
        except AlreadyRunning as e:
            raise ApiError(
                409,
                f"{route.job} is already running (run {e.run_id}); it was not started again",
                run_id=e.run_id,
                headers={"Location": f"/api/v1/runs/{e.run_id}"},
            ) from None
        except BadMessage as e:
            raise ApiError(400, str(e), [FieldProblem(field=f"params.{n}", problem=p) for n, p in e.fields]) from None
        except JobRefused as e:
            raise ApiError(409, str(e)) from None
        headers = {"Location": f"/api/v1/runs/{run_id}"}
        if route.content_type:
            headers["Content-Type"] = route.content_type
        return Response(route.body or None, status_code=route.status, headers=headers)

    app.add_api_route(
        route.path, trigger, methods=[route.method], include_in_schema=False, summary=route.summary or None
    )


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "the form body is not valid") from None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "the body is not valid JSON") from None
