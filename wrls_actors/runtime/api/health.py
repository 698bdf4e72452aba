"""/healthz: the process answers. /readyz: and the database and the broker answer it too."""

from __future__ import annotations

import pika
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ..service import Service
from .models import Health

CHECK_TIMEOUT_S = 2


def router(service: Service) -> APIRouter:
    routes = APIRouter(tags=["health"])

    @routes.get("/healthz", response_model=Health, summary="Liveness: the API process answers")
    def healthz() -> Health:
        return Health(status="ok")

    @routes.get(
        "/readyz",
        response_model=Health,
        responses={503: {"model": Health, "description": "The database or the broker does not answer"}},
        summary="Readiness: the database and the broker answer",
    )
    def readyz() -> JSONResponse:
        checks = {"database": _database(service), "broker": _broker(service)}
        ready = all(v == "ok" for v in checks.values())
        body = Health(status="ok" if ready else "unavailable", checks=checks)
        return JSONResponse(body.model_dump(), status_code=200 if ready else 503)

    return routes


def _database(service: Service) -> str:
    try:
        with service.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as e:  # any failure means not ready; the name says which
        return f"unreachable ({e.__class__.__name__})"
    return "ok"


def _broker(service: Service) -> str:
    urls = service.settings.broker_urls
    if not urls:
        return "ok"  # the embedded default's broker lives in this process
    try:
        # Any node that answers will do: the service's own connections go to the first that does.
        nodes = [pika.URLParameters(url) for url in urls]
        for parameters in nodes:
            parameters.socket_timeout = CHECK_TIMEOUT_S
            parameters.blocked_connection_timeout = CHECK_TIMEOUT_S
            parameters.connection_attempts = 1
        pika.BlockingConnection(nodes).close()
    except Exception as e:
        return f"unreachable ({e.__class__.__name__})"
    return "ok"
