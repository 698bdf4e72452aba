"""/api/v1's operator actions: each takes a reason, and the ledger keeps who, what and why.

Who is the token's subject (`sub`); in the embedded default without a
secret, "local".
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Path, Request
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from ..backfills import MAX_SPAN, MAX_TICKS, BackfillRefused, BadBackfillRange
from ..dead_letters import AlreadyReplayed, NoSuchDeadLetter, NotReplayable
from ..errors import AlreadyRunning, NoSuchRun, NotRunning
from ..pauses import PauseConflict, UnknownSchedule
from ..retries import NotRetryable
from ..service import Service
from .models import REASON, FieldProblem, not_a_number
from .problems import ApiError, documented, run_id_or_404


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, REASON]


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, REASON]
    failed_children_only: bool = Field(
        default=False, description="Run again only the failed fan-out children of the fan-in the run failed at."
    )


class Retried(BaseModel):
    run_id: str
    status: str = "running"
    children_again: int = Field(description="The fan-out children that run again (0 when retried from its step).")


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, REASON]


class ResumeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, REASON]
    catch_up: bool = Field(default=False, description="Start the job once for the latest paused tick.")


class ScheduleAction(BaseModel):
    schedule: str
    paused: bool
    run_id: str | None = Field(default=None, description="The run started by a catch-up on resume.")


class BackfillRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: Annotated[
        AwareDatetime,
        BeforeValidator(not_a_number),
        Field(description="The first nominal time backfilled (included), with a time zone."),
    ]
    until: Annotated[
        AwareDatetime,
        BeforeValidator(not_a_number),
        Field(description="The end of the range (excluded), with a time zone; not in the future."),
    ]
    reason: Annotated[str, REASON]


class Backfilled(BaseModel):
    schedule: str
    run_ids: list[str] = Field(description="The runs started now, oldest tick first.")
    queued: list[datetime] = Field(
        description="The ticks waiting their turn under the `skip` overlap policy: the scheduler starts each "
        "when the job is not running, oldest first."
    )
    ticks: int = Field(description="The ticks of the range that never ran, started or queued now.")


class Cancelled(BaseModel):
    run_id: str
    status: str = "cancelled"
    children_cancelled: int = Field(description="Fan-out children not started, which never will be.")


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, REASON]


class ReplayAccepted(BaseModel):
    message_id: str
    queue: str = Field(description="Where it was published again.")
    actor: str
    run_id: str | None = Field(description="Its run, which takes it again (reopened if it had failed there).")


def router(service: Service) -> APIRouter:
    routes = APIRouter(tags=["actions"])

    @routes.post(
        "/runs/{run_id}/cancel",
        response_model=Cancelled,
        responses=documented(not_found="No such run", conflict="The run is not running"),
        summary="Cancel a running run",
        description="The step at work finishes; nothing after it starts. Fan-out children not started are "
        "counted as cancelled and never run.",
    )
    def cancel_run(
        request: Request, run_id: Annotated[str, Path(max_length=100)], body: Annotated[CancelRequest, Body()]
    ) -> Cancelled:
        run_id = run_id_or_404(run_id)
        try:
            children = service.cancel(run_id, operator=request.state.operator, reason=body.reason.strip())
        except NoSuchRun as e:
            raise ApiError(404, str(e)) from None
        except NotRunning as e:
            raise ApiError(409, str(e), run_id=e.run_id) from None
        return Cancelled(run_id=run_id, children_cancelled=children)

    @routes.post(
        "/runs/{run_id}/retry",
        status_code=202,
        response_model=Retried,
        responses=documented(
            not_found="No such run", conflict="The run has not failed, or has no failed children where it stopped"
        ),
        summary="Retry a failed run: from the step it failed at, or only its failed fan-out children",
    )
    def retry_run(
        request: Request, run_id: Annotated[str, Path(max_length=100)], body: Annotated[RetryRequest, Body()]
    ) -> Retried:
        run_id = run_id_or_404(run_id)
        try:
            again = service.retry(
                run_id,
                operator=request.state.operator,
                reason=body.reason.strip(),
                failed_children_only=body.failed_children_only,
            )
        except NoSuchRun as e:
            raise ApiError(404, str(e)) from None
        except NotRetryable as e:
            raise ApiError(409, str(e), run_id=run_id) from None
        return Retried(run_id=run_id, children_again=again)

    @routes.post(
        "/schedules/{name}/pause",
        response_model=ScheduleAction,
        responses=documented(not_found="No such schedule", conflict="The schedule is already paused"),
        summary="Pause a schedule: its ticks are recorded as paused and start nothing",
    )
    def pause_schedule(
        request: Request, name: Annotated[str, Path(max_length=100)], body: Annotated[PauseRequest, Body()]
    ) -> ScheduleAction:
        try:
            service.pause(name, operator=request.state.operator, reason=body.reason.strip())
        except UnknownSchedule as e:
            raise ApiError(404, str(e)) from None
        except PauseConflict as e:
            raise ApiError(409, str(e)) from None
        return ScheduleAction(schedule=name, paused=True, run_id=None)

    @routes.post(
        "/schedules/{name}/resume",
        response_model=ScheduleAction,
        responses=documented(
            not_found="No such schedule", conflict="The schedule is not paused, or it resumed but its job is running"
        ),
        summary="Resume a schedule; the paused ticks are caught up only when asked (once, the latest)",
    )
    def resume_schedule(
        request: Request, name: Annotated[str, Path(max_length=100)], body: Annotated[ResumeRequest, Body()]
    ) -> ScheduleAction:
        try:
            run_id = service.resume(
                name, operator=request.state.operator, reason=body.reason.strip(), catch_up=body.catch_up
            )
        except UnknownSchedule as e:
            raise ApiError(404, str(e)) from None
        except PauseConflict as e:
            raise ApiError(409, str(e)) from None
        except AlreadyRunning as e:
            raise ApiError(409, f"resumed, but not caught up: {e}", run_id=e.run_id) from None
        return ScheduleAction(schedule=name, paused=False, run_id=run_id)

    @routes.post(
        "/schedules/{name}/backfill",
        status_code=202,
        response_model=Backfilled,
        responses=documented(
            not_found="No such schedule", conflict="The schedule is paused or switched off, or its job has no steps"
        ),
        summary="Run a schedule's ticks of a past range that never ran (missing, missed or paused), under its "
        "overlap policy",
        description=f"At most {MAX_TICKS} ticks over at most {MAX_SPAN.days} days. A tick that ran is never run "
        "again: the same range backfilled twice starts nothing the second time.",
    )
    def backfill_schedule(
        request: Request, name: Annotated[str, Path(max_length=100)], body: Annotated[BackfillRequest, Body()]
    ) -> Backfilled:
        try:
            done = service.backfill(
                name,
                since=body.since,
                until=body.until,
                operator=request.state.operator,
                reason=body.reason.strip(),
            )
        except UnknownSchedule as e:
            raise ApiError(404, str(e)) from None
        except BadBackfillRange as e:
            raise ApiError(422, str(e), [FieldProblem(field=f"body.{e.field}", problem=str(e))]) from None
        except BackfillRefused as e:
            raise ApiError(409, str(e)) from None
        return Backfilled(schedule=name, run_ids=done.run_ids, queued=done.queued, ticks=done.ticks)

    @routes.post(
        "/dead-letters/{message_id}/replay",
        status_code=202,
        response_model=ReplayAccepted,
        responses=documented(
            not_found="No dead letter of that id",
            conflict="It was replayed before, or it could not run if replayed (its run moved on)",
        ),
        summary="Replay a dead letter, once: back to its queue, its failed run or fan-in taking it again",
    )
    def replay_dead_letter(
        request: Request,
        message_id: Annotated[str, Path(max_length=200)],
        body: Annotated[ReplayRequest, Body()],
    ) -> ReplayAccepted:
        try:
            replayed = service.replay(message_id, operator=request.state.operator, reason=body.reason.strip())
        except NoSuchDeadLetter as e:
            raise ApiError(404, str(e)) from None
        except (AlreadyReplayed, NotReplayable) as e:
            raise ApiError(409, str(e)) from None
        return ReplayAccepted(
            message_id=replayed.message_id, queue=replayed.queue, actor=replayed.actor, run_id=replayed.run_id
        )

    return routes
