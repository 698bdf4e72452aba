"""/api/v1: start a run, list and read runs, list jobs and schedules.

Handlers are plain functions: FastAPI runs them in its thread pool, where the
ledger's blocking reads and the broker's publish belong.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BeforeValidator

from ..errors import AlreadyRunning, BadMessage, KeyReused, UnknownJob
from ..service import Service
from .models import (
    DeadLetter,
    DeadLetterList,
    FieldProblem,
    JobInfo,
    JobList,
    LateStep,
    LateStepList,
    ParamInfo,
    RunDetail,
    RunPage,
    RunStarted,
    RunStatus,
    ScheduleInfo,
    ScheduleList,
    StartRequest,
    StepInfo,
    Trigger,
    WorkerInfo,
    WorkerList,
    not_a_number,
)
from .problems import ApiError, documented, run_id_or_404
from .reads import (
    BadCursor,
    last_runs,
    last_ticks,
    next_ticks,
    pauses,
    run_detail,
    runs_page,
    schedule_actions,
)

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
# A message id is a key too: printable ASCII, no spaces, as AMQP and HTTP headers carry them.
KEY = r"^[!-~]{1,200}$"
LAST_TICKS = 10
NEXT_TICKS = 5


Moment = Annotated[datetime | None, BeforeValidator(not_a_number)]


def _utc(moment: datetime | None, field: str) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise ApiError(
            422,
            f"{field} needs a time zone (2026-01-31T08:00:00Z)",
            [FieldProblem(field=f"query.{field}", problem="needs a time zone")],
        )
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00:00+01:00 is before the first moment Python's datetime holds in UTC.
        raise ApiError(
            422,
            f"{field} is out of range once in UTC",
            [FieldProblem(field=f"query.{field}", problem="out of range once in UTC")],
        ) from None


def router(service: Service) -> APIRouter:
    routes = APIRouter(tags=["v1"])

    @routes.post(
        "/jobs/{job}/runs",
        status_code=202,
        response_model=RunStarted,
        responses=documented(
            not_found="No such job", conflict="The job is already running, or the key started a run of another job"
        ),
        summary="Start a run of a job",
        description="The `Idempotency-Key` header has the meaning of a message id: the same key gives the same "
        "run, never a second. Without `force`, a job that is already running (and does not allow overlap) is not "
        "started again: 409 with the running run's id. The run's `run-triggered` event keeps who started it (the "
        "token's subject) and the optional `reason`.",
    )
    def start_run(
        http: Request,
        job: Annotated[str, Path(pattern=NAME)],
        body: Annotated[StartRequest | None, Body()] = None,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", pattern=KEY)] = None,
    ) -> JSONResponse:
        request = body or StartRequest()
        try:
            run_id = service.trigger(
                job,
                request.params,
                trigger="http",
                force=request.force,
                key=idempotency_key,
                operator=http.state.operator,
                reason=request.reason.strip() if request.reason else None,
            )
        except UnknownJob as e:
            raise ApiError(404, f"{e}; GET /api/v1/jobs lists the jobs") from None
        except BadMessage as e:
            fields = [FieldProblem(field=f"params.{name}", problem=problem) for name, problem in e.fields]
            raise ApiError(422, str(e), fields or [FieldProblem(field="params", problem=str(e))]) from None
        except (AlreadyRunning, KeyReused) as e:
            raise ApiError(409, str(e), run_id=e.run_id) from None
        location = f"/api/v1/runs/{run_id}"
        started = RunStarted(run_id=run_id, job=job, location=location)
        return JSONResponse(started.model_dump(), status_code=202, headers={"Location": location})

    @routes.get("/runs", response_model=RunPage, responses=documented(), summary="Runs, newest first")
    def list_runs(
        job: Annotated[str | None, Query(pattern=NAME)] = None,
        status: RunStatus | None = None,
        trigger: Trigger | None = None,
        since: Annotated[Moment, Query(description="Runs started at or after (with a time zone)")] = None,
        until: Annotated[Moment, Query(description="Runs started before (with a time zone)")] = None,
        cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> RunPage:
        try:
            with service.engine.connect() as connection:
                runs, next_cursor = runs_page(
                    connection,
                    job=job,
                    status=status,
                    trigger=trigger,
                    since=_utc(since, "since"),
                    until=_utc(until, "until"),
                    cursor=cursor,
                    limit=limit,
                )
        except BadCursor as e:
            raise ApiError(422, str(e), [FieldProblem(field="query.cursor", problem=str(e))]) from None
        return RunPage(runs=runs, next_cursor=next_cursor)

    @routes.get(
        "/runs/{run_id}",
        response_model=RunDetail,
        responses=documented(not_found="No such run"),
        summary="One run: its steps with attempts, timings and errors, its events, fan-out progress",
    )
    def read_run(run_id: Annotated[str, Path(max_length=100)]) -> RunDetail:
        run_id = run_id_or_404(run_id)
        with service.engine.connect() as connection:
            detail = run_detail(connection, run_id, service.jobs)
        if detail is None:
            raise ApiError(404, f"no run {run_id}")
        return detail

    @routes.get("/jobs", response_model=JobList, responses=documented(), summary="Every job with its steps and params")
    def list_jobs() -> JobList:
        now = datetime.now(UTC)
        with service.engine.connect() as connection:
            last = last_runs(connection, list(service.jobs))
        by_job = {s.job: s for s in service.schedules.values()}
        jobs = []
        for job in service.jobs.values():
            schedule = by_job.get(job.name)
            upcoming = next_ticks(schedule, service.tz, now, 1) if schedule else []
            jobs.append(
                JobInfo(
                    name=job.name,
                    overlap=job.overlap,
                    steps=[
                        StepInfo(
                            name=step.name,
                            queue=job.queue_of(step),
                            time_limit_s=step.time_limit.total_seconds(),
                            max_retries=step.max_retries,
                            fan_out=step.fan_out.name if step.fan_out else None,
                        )
                        for step in job.steps
                    ],
                    params=[
                        ParamInfo(name=p.name, type=p.kind, required=p.required, default=p.default, help=p.help)
                        for p in job.params
                    ],
                    schedule=(schedule.describe() if schedule.enabled else "off") if schedule else None,
                    next_tick=upcoming[0] if upcoming else None,
                    last_run=last.get(job.name),
                )
            )
        return JobList(jobs=jobs)

    @routes.get(
        "/schedules",
        response_model=ScheduleList,
        responses=documented(),
        summary="Every schedule: cron, time zone, policies, the last ticks and the next",
    )
    def list_schedules() -> ScheduleList:
        now = datetime.now(UTC)
        schedules = []
        with service.engine.connect() as connection:
            paused = pauses(connection)
            for schedule in service.schedules.values():
                schedules.append(
                    ScheduleInfo(
                        name=schedule.name,
                        job=schedule.job,
                        cron=schedule.cron,
                        every_s=schedule.every.total_seconds() if schedule.every else None,
                        timezone=str(service.tz),
                        overlap=schedule.overlap,
                        catch_up=schedule.catch_up,
                        enabled=schedule.enabled,
                        paused=paused.get(schedule.name),
                        title=schedule.title,
                        actions=schedule_actions(connection, schedule.name, LAST_TICKS),
                        last_ticks=last_ticks(connection, schedule.name, LAST_TICKS),
                        next_ticks=next_ticks(schedule, service.tz, now, NEXT_TICKS),
                    )
                )
        return ScheduleList(schedules=schedules)

    @routes.get(
        "/dead-letters",
        response_model=DeadLetterList,
        responses=documented(),
        summary="The messages in every queue's dead-letter queue, with the ledger's reason",
        description="Read without taking any away or changing their order.",
    )
    def list_dead_letters(limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> DeadLetterList:
        found = service.dead_letters(limit=limit)
        return DeadLetterList(
            dead_letters=[DeadLetter(**dataclasses.asdict(letter)) for letter in found.letters],
            depths=found.depths,
            truncated=found.truncated,
        )

    @routes.get(
        "/workers",
        response_model=WorkerList,
        responses=documented(),
        summary="Worker processes and their last heartbeat: alive, gone, or stopped within a day",
    )
    def list_workers() -> WorkerList:
        return WorkerList(workers=[WorkerInfo(**dataclasses.asdict(w)) for w in service.workers()])

    @routes.get(
        "/stalls",
        response_model=LateStepList,
        responses=documented(),
        summary="Steps stalled or past their heartbeat, oldest first, with their age and worker",
    )
    def list_stalls(limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> LateStepList:
        return LateStepList(steps=[LateStep(**dataclasses.asdict(s)) for s in service.late_steps(limit=limit)])

    return routes
