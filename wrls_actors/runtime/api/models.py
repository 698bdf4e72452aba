"""What the versioned API answers, as pydantic models: the OpenAPI document is made from them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..database import MAX_REASON_CHARS

RunStatus = Literal["running", "succeeded", "completed-with-failures", "failed", "cancelled"]
Trigger = Literal["schedule", "cli", "message", "http"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def not_a_number(value: Any) -> Any:
    """Pydantic would read a number as Unix seconds (`until=0.5` was 1970): the document says date-time."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError("a date and time with a time zone (2026-01-31T08:00:00Z), not a number")
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError("a date and time with a time zone (2026-01-31T08:00:00Z), not a number")
    return value


# An operator's reason: kept in the ledger beside who acted.
REASON = Field(
    min_length=1, max_length=MAX_REASON_CHARS, pattern=r"^[^\x00]*\S[^\x00]*$", description="Why: kept in the ledger."
)


class StartRequest(_Strict):
    params: dict[str, Any] = Field(default_factory=dict, description="The job's parameters (GET /api/v1/jobs).")
    force: bool = Field(default=False, description="Start even if the job is already running.")
    reason: Annotated[str, REASON] | None = Field(
        default=None, description="Why: kept in the ledger with who started it (the run's `run-triggered` event)."
    )


class RunStarted(BaseModel):
    run_id: str
    job: str
    location: str = Field(description="Where the run can be read: GET it.")


class FieldProblem(BaseModel):
    field: str = Field(description="The field, dotted: `params.licence`, `query.since`, `body`.")
    problem: str


class Problem(BaseModel):
    """Every refusal of /api/v1 and of the health routes."""

    error: str = Field(description="A short code: unauthorized, not-found, conflict, invalid, too-large, unavailable.")
    message: str
    fields: list[FieldProblem] = Field(default_factory=list)
    run_id: str | None = Field(None, description="With conflict: the run already running, or started by the key.")


class ParamInfo(BaseModel):
    name: str
    type: str
    required: bool
    default: Any = None
    help: str


class StepInfo(BaseModel):
    name: str
    queue: str
    time_limit_s: float
    max_retries: int
    fan_out: str | None = Field(None, description="The name of the step each fanned-out item runs.")


class Tick(BaseModel):
    nominal_time: datetime
    outcome: str
    claimed_at: datetime
    lag_s: float | None
    run_id: str | None
    duplicates: int
    detail: str | None


class Pause(BaseModel):
    since: datetime
    operator: str
    reason: str


class Action(BaseModel):
    at: datetime
    kind: str
    operator: str | None
    reason: str | None


class ScheduleInfo(BaseModel):
    name: str
    job: str
    cron: str | None
    every_s: float | None
    timezone: str
    overlap: str
    catch_up: str
    enabled: bool
    paused: Pause | None = Field(description="Who paused it, when and why; null when it is not paused.")
    title: str
    actions: list[Action] = Field(
        description="The operators' last 10 actions on it (paused, resumed, backfilled), newest first."
    )
    last_ticks: list[Tick]
    next_ticks: list[datetime]


class RunSummary(BaseModel):
    run_id: str
    job: str
    trigger: str
    status: str
    step_index: int
    nominal_time: datetime | None
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    params: dict[str, Any]
    counts: dict[str, Any]
    children_failed: int
    children_cancelled: int
    error: str | None
    note: str | None


class JobInfo(BaseModel):
    name: str
    overlap: str
    steps: list[StepInfo]
    params: list[ParamInfo]
    schedule: str | None = Field(None, description="The cron expression or interval, if the job is scheduled.")
    next_tick: datetime | None
    last_run: RunSummary | None


class JobList(BaseModel):
    jobs: list[JobInfo]


class ScheduleList(BaseModel):
    schedules: list[ScheduleInfo]


class RunPage(BaseModel):
    runs: list[RunSummary]
    next_cursor: str | None = Field(description="Give it as `cursor` for the next (older) page; null on the last.")


class ChildFailure(BaseModel):
    position: int | None = Field(description="The item's position in the list its step fanned out.")
    item: Any = Field(default=None, description="The item, as its step fanned it out (null if not recorded).")
    error: str | None


class FanOut(BaseModel):
    step: str
    expected: int
    arrived: int
    failed: int
    counts: dict[str, Any]
    fired_at: datetime | None
    failures: list[ChildFailure] = Field(description="The first failed items, at most 20, in their order.")


class StepRun(BaseModel):
    index: int
    name: str
    actor: str
    queue: str | None
    status: str = Field(description="`not-started` until its message is recorded.")
    attempt: int | None
    deliveries: int | None
    enqueued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None
    stalls: int | None
    timeouts: int | None
    error: str | None
    fan_out: FanOut | None


class Event(BaseModel):
    at: datetime
    kind: str
    actor: str | None
    message_id: str | None
    detail: str | None
    operator: str | None = Field(None, description="Who, for an operator's action.")
    reason: str | None = Field(None, description="Why, for an operator's action.")


class RunDetail(RunSummary):
    steps: list[StepRun]
    events: list[Event]
    archived: bool = Field(
        False,
        description="True when the run's week has been dropped from the ledger and this is the archive's copy "
        "of a failure: its failed steps alone, and its events.",
    )


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)


class DeadLetter(BaseModel):
    message_id: str | None = Field(description="Null when the body is not a message (not JSON): it cannot be replayed.")
    queue: str = Field(description="The queue it was dead-lettered from; it waits in `<queue>.XQ`.")
    actor: str | None
    run_id: str | None
    dead_lettered_at: datetime | None
    reason: str | None = Field(description="The ledger's: the step's error, or what refused the message.")
    status: str | None = Field(description="Its step's status in the ledger, if it has a step.")
    replayed_at: datetime | None = Field(description="When it was replayed before (it failed again): not again.")


class DeadLetterList(BaseModel):
    dead_letters: list[DeadLetter] = Field(description="In each queue's order, queue by queue.")
    depths: dict[str, int] = Field(description="Messages in each queue's dead-letter queue.")
    truncated: bool = Field(description="More than `limit` messages: the first of each queue are listed.")


class WorkerInfo(BaseModel):
    worker_id: str = Field(description="hostname:pid")
    hostname: str
    pid: int
    queues: list[str]
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_age_s: float
    stopped_at: datetime | None
    state: Literal["alive", "stopped", "gone"] = Field(description="`gone`: no heartbeat for WRLS_STALL_AFTER_S.")


class WorkerList(BaseModel):
    workers: list[WorkerInfo]


class LateStep(BaseModel):
    message_id: str
    run_id: str | None
    actor: str
    queue: str
    status: str = Field(description="`stalled`, or `running` with no heartbeat for two beats.")
    worker: str | None
    started_at: datetime | None
    heartbeat_at: datetime | None
    age_s: float = Field(description="Since its last heartbeat (or its start).")
    stalls: int
    error: str | None


class LateStepList(BaseModel):
    steps: list[LateStep]
