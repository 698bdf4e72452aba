"""/api/v1's operator actions: each takes a reason, and the ledger keeps who, what and why.

Who is the token's subject (`sub`); in the embedded default without a
secret, "local".
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from ..errors import NoSuchRun, NotRunning
from ..service import Service
from .models import Problem
from .problems import ApiError

REASON = Field(min_length=1, max_length=500, pattern=r"^[^\x00]*\S[^\x00]*$", description="Why: kept in the ledger.")


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, REASON]


class Cancelled(BaseModel):
    run_id: str
    status: str = "cancelled"
    children_cancelled: int = Field(description="Fan-out children not started, which never will be.")


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    described = {
        401: "No token, or one that is expired or wrongly signed",
        404: "No such run",
        409: "The run is not running",
        413: "The body is over 1 MiB",
        422: "A field is not valid; `fields` names each",
        503: "The database or the broker is unreachable",
    }
    return {s: {"model": Problem, "description": described[s]} for s in (401, 413, 422, 503, *statuses)}


def router(service: Service) -> APIRouter:
    routes = APIRouter(tags=["actions"])

    @routes.post(
        "/runs/{run_id}/cancel",
        response_model=Cancelled,
        responses=_responses(404, 409),
        summary="Cancel a running run",
        description="The step at work finishes; nothing after it starts. Fan-out children not started are "
        "counted as cancelled and never run.",
    )
    def cancel_run(
        request: Request, run_id: Annotated[str, Path(max_length=100)], body: Annotated[CancelRequest, Body()]
    ) -> Cancelled:
        try:
            UUID(run_id)
        except ValueError:
            raise ApiError(404, f"no run {run_id!r}: run ids are UUIDs") from None
        try:
            children = service.cancel(run_id, operator=request.state.operator, reason=body.reason.strip())
        except NoSuchRun as e:
            raise ApiError(404, str(e)) from None
        except NotRunning as e:
            raise ApiError(409, str(e), run_id=e.run_id) from None
        return Cancelled(run_id=run_id, children_cancelled=children)

    return routes
