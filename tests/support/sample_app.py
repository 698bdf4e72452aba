"""A small application for the runtime's tests: jobs whose effects are rows in
``test_effects``, so tests can see what ran, how often, and in which order."""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import timedelta

from sqlalchemy import text

from wrls_actors.runtime import FAIL, NONE, Job, Param, PermanentError, Schedule, Service, Settings, Step
from wrls_actors.runtime.api import RouteInput, RouteInputError, TriggerRoute
from wrls_actors.runtime.retention import retention_schedule

EFFECTS_DDL = """
CREATE TABLE IF NOT EXISTS test_effects (
    id serial PRIMARY KEY,
    run_id uuid NOT NULL,
    step text NOT NULL,
    message_id text NOT NULL,
    item text,
    attempt integer NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS test_effects_once ON test_effects (message_id, step);
CREATE TABLE IF NOT EXISTS test_attempts (message_id text, step text, at timestamptz DEFAULT now());
-- What the fixable jobs fail on until a test deletes it: `step`, or a child's item.
CREATE TABLE IF NOT EXISTS test_broken (what text PRIMARY KEY);
"""

_service: Service | None = None


def _effect(ctx, item=None) -> None:
    """An idempotent effect (unique per message) and a non-idempotent attempt log."""
    with _service.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO test_attempts (message_id, step) VALUES (:m, :s)"), {"m": ctx.message_id, "s": ctx.step}
        )
        connection.execute(
            text(
                "INSERT INTO test_effects (run_id, step, message_id, item, attempt) VALUES (:r, :s, :m, :i, :a) "
                "ON CONFLICT (message_id, step) DO NOTHING"
            ),
            {
                "r": str(ctx.run_id),
                "s": ctx.step,
                "m": ctx.message_id,
                "i": None if item is None else str(item),
                "a": ctx.attempt,
            },
        )


def record(ctx):
    _effect(ctx)
    ctx.count("records")


def maybe_stop(ctx):
    _effect(ctx)
    if ctx.params.get("stop"):
        ctx.end_run("nothing to do")


def refuse(ctx):
    _effect(ctx)
    raise PermanentError("the input is bad: retrying cannot help")


def patient(ctx):
    """Waits two attempts for something, as a step does that may not hold its worker for long."""
    _effect(ctx)
    if ctx.attempt < 3:
        ctx.retry_later(f"not there yet at attempt {ctx.attempt}", timedelta(milliseconds=100))
    ctx.count("waited_attempts", ctx.attempt - 1)


def boom(ctx):
    _effect(ctx)
    raise ValueError("boom: this step always fails")


def items(ctx):
    _effect(ctx)
    return list(range(int(ctx.params.get("n", 5))))


def child(ctx):
    if ctx.item in ctx.params.get("fail", []):
        raise ValueError(f"item {ctx.item} is bad")
    _effect(ctx, ctx.item)
    ctx.count("children_ok")


def chunk_child(ctx):
    """A chunk's items in one transaction: a bad item fails the whole call (bisection finds it)."""
    bad = [item for item in ctx.items if item in ctx.params.get("fail", []) or _broken(str(item))]
    with _service.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO test_attempts (message_id, step) VALUES (:m, :s)"),
            {"m": ctx.message_id, "s": f"chunk:{len(ctx.items)}"},
        )
        for item in ctx.items:
            connection.execute(
                text(
                    "INSERT INTO test_effects (run_id, step, message_id, item, attempt) VALUES (:r, :s, :m, :i, :a) "
                    "ON CONFLICT (message_id, step) DO NOTHING"
                ),
                # One effect per item, whichever message carried it: an item done twice shows once.
                {"r": str(ctx.run_id), "s": ctx.step, "m": f"{ctx.run_id}:{item}", "i": str(item), "a": ctx.attempt},
            )
        if bad:
            raise PermanentError(f"item {bad[0]} is bad")
    ctx.count("children_ok", len(ctx.items))


def _broken(what: str) -> bool:
    with _service.engine.connect() as connection:
        return connection.execute(text("SELECT 1 FROM test_broken WHERE what = :w"), {"w": what}).first() is not None


def fixable_step(ctx):
    with _service.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO test_attempts (message_id, step) VALUES (:m, :s)"),
            {"m": ctx.message_id, "s": f"{ctx.step}:tried"},
        )
    if _broken("step"):
        raise PermanentError("broken until fixed")
    _effect(ctx)


def fixable_child(ctx):
    with _service.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO test_attempts (message_id, step) VALUES (:m, :s)"),
            {"m": ctx.message_id, "s": f"each:{ctx.item}"},
        )
    if _broken(str(ctx.item)):
        raise PermanentError(f"item {ctx.item} is broken until fixed")
    _effect(ctx, ctx.item)
    ctx.count("children_ok")


def slow_child(ctx):
    time.sleep(0.3)
    _effect(ctx, ctx.item)


def lagging_child(ctx):
    """Quick, but for the items in ``slow``, which take ``seconds``."""
    if ctx.item in ctx.params.get("slow", []):
        time.sleep(float(ctx.params.get("seconds", 1)))
    _effect(ctx, ctx.item)


def slow(ctx):
    # Small sleeps: Dramatiq's time limit can interrupt Python code between them.
    deadline = time.monotonic() + float(ctx.params.get("seconds", 10))
    while time.monotonic() < deadline:
        time.sleep(0.05)
    _effect(ctx)


def marked_slow(ctx):
    """Records that it started (not idempotently), then works for a while, then its effect."""
    with _service.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO test_attempts (message_id, step) VALUES (:m, 'started')"), {"m": ctx.message_id}
        )
    slow(ctx)


def hang(ctx):
    # One blocking call: the time limit cannot interrupt it.
    time.sleep(float(ctx.params.get("seconds", 30)))


def crash(ctx):
    _effect(ctx)
    os._exit(17)


QUICK = dict(min_backoff=timedelta(milliseconds=100), max_backoff=timedelta(milliseconds=200))
FAN_PARAMS = (
    Param("n", int, default=5, help="how many children"),
    Param("fail", int, many=True, help="the children that fail"),
)
SECONDS = (Param("seconds", float, help="how long the step works"),)

JOBS = (
    Job(
        "pipeline",
        (Step("first", record), Step("second", record), Step("third", record)),
        queue="short",
        params=(Param("x", int, help="read by no step: a parameter kept with the run"),),
    ),
    Job(
        "fail-fast",
        (Step("first", record), Step("broken", boom, max_retries=1, **QUICK), Step("never", record)),
        queue="short",
    ),
    Job(
        "fan",
        (
            Step("prepare", items, fan_out=Step("each", child, max_retries=1, **QUICK)),
            Step("finish", record),
        ),
        queue="long",
        params=FAN_PARAMS,
    ),
    # Default retries and backoff (5 s, doubling): children ride out a broker or database restart.
    Job(
        "fan-steady",
        (Step("prepare", items, fan_out=Step("each", child)), Step("finish", record)),
        queue="long",
        params=FAN_PARAMS,
    ),
    Job(
        "fan-strict",
        (
            Step("prepare", items, fan_out=Step("each", child, max_retries=0), on_child_failure=FAIL),
            Step("finish", record),
        ),
        queue="long",
        params=FAN_PARAMS,
    ),
    # Fail on what test_broken holds, until a test fixes it: runs to retry.
    Job("fixable", (Step("first", record), Step("check", fixable_step), Step("then", record)), queue="short"),
    Job(
        "fan-fixable",
        (
            Step("prepare", items, fan_out=Step("each", fixable_child), on_child_failure=FAIL),
            Step("finish", record),
        ),
        queue="long",
        params=FAN_PARAMS,
    ),
    # Children of 4 items each, done together; a bad item fails alone.
    Job(
        "fan-chunked",
        (
            Step("prepare", items, fan_out=Step("each", chunk_child, chunk=4, max_retries=1, **QUICK)),
            Step("finish", record),
        ),
        queue="long",
        params=FAN_PARAMS,
    ),
    Job(
        "fan-chunked-strict",
        (
            Step("prepare", items, fan_out=Step("each", chunk_child, chunk=4, max_retries=0), on_child_failure=FAIL),
            Step("finish", record),
        ),
        queue="long",
        params=FAN_PARAMS,
    ),
    # Quick children but a few: a long one holds up those waiting behind it in its batch.
    Job(
        "fan-lagging",
        (Step("prepare", items, fan_out=Step("each", lagging_child)), Step("finish", record)),
        queue="long",
        params=(
            Param("n", int, default=5, help="how many children"),
            Param("slow", int, many=True, help="the children that take long"),
            Param("seconds", float, default=1, help="how long they take"),
        ),
    ),
    # Children of 0.3 s each: a run to cancel while most of its children wait in the queue.
    Job(
        "fan-slow",
        (Step("prepare", items, fan_out=Step("each", slow_child)), Step("finish", record)),
        queue="long",
        params=FAN_PARAMS,
    ),
    Job("slow", (Step("work", slow, time_limit=timedelta(seconds=1), max_retries=0),), queue="short", params=SECONDS),
    Job(
        "long-step",
        (Step("work", marked_slow, time_limit=timedelta(seconds=60)), Step("after", record)),
        queue="long",
        params=SECONDS,
    ),
    Job("hung", (Step("work", hang, time_limit=timedelta(seconds=1), max_retries=0),), queue="long", params=SECONDS),
    Job("crasher", (Step("work", crash),), queue="long"),
    Job("noop", (Step("work", lambda ctx: None),), queue="short"),
    Job("pulse", (Step("beat", lambda ctx: None),), queue="short"),
    Job(
        "gate",
        (Step("check", maybe_stop), Step("after", record)),
        queue="short",
        params=(Param("stop", bool, help="end the run after its first step"),),
    ),
    Job("bad-input", (Step("read", refuse, max_retries=3, **QUICK), Step("never", record)), queue="short"),
    # A backoff of 20 minutes: only RetryLater's own delay brings the retries round in time.
    Job(
        "patient",
        (
            Step("wait", patient, max_retries=2, min_backoff=timedelta(minutes=20), max_backoff=timedelta(minutes=20)),
            Step("after", record),
        ),
        queue="short",
    ),
)

SCHEDULES = (
    Schedule("pipeline", cron="* * * * *", title="Pipeline every minute"),
    Schedule("noop", every=timedelta(seconds=15), catch_up=NONE, title="No-op every 15 s"),
    Schedule("pulse", every=timedelta(seconds=15), title="Every 15 s, the latest missed tick caught up"),
    Schedule("unbuilt", cron="0 3 * * *", title="A job with no steps"),
    Schedule("long-step", cron="* * * * *", title="Overlaps itself"),
    Schedule("gate", cron="0 1 * * *", title="01:00 every day: skipped in spring, repeated in autumn"),
    # The runtime's own job, scheduled as every service has it: listed here so only TEST_SCHEDULES enables it.
    retention_schedule(),
)


def fan_size_in_query(given: RouteInput) -> dict:
    n = given.query.get("n")
    if n is None or not n.isdigit():
        raise RouteInputError("query.n", "must be a whole number")
    return {"n": int(n)}


# One route of each kind an application declares for older callers: open-able and answering 204, as the
# system app's /jobs/* did; and one with a token, taking its parameters from the query, answering 202.
HTTP_ROUTES = (
    TriggerRoute("POST", "/jobs/noop", "noop", status=204, openable=True),
    TriggerRoute("POST", "/import/fan", "fan", status=202, params=fan_size_in_query),
)


def build(env) -> Service:
    """The sample service; only the schedules named in TEST_SCHEDULES are enabled."""
    enabled = set(filter(None, env.get("TEST_SCHEDULES", "").split(",")))
    schedules = [dataclasses.replace(s, enabled=s.job in enabled) for s in SCHEDULES]
    return Service(Settings.from_env("WRLS", env), JOBS, schedules, http_routes=HTTP_ROUTES)


def service() -> Service:
    global _service
    if _service is None:
        _service = build(os.environ)
    return _service


def fresh_service() -> Service:
    """A new Service on every call, as WRLS's own factory (``wrls_actors.app:service``) builds them:
    the worker's main process and each worker process it forks build one."""
    global _service
    _service = build(os.environ)
    return _service


def prepare_database(engine) -> None:
    with engine.begin() as connection:
        connection.execute(text(EFFECTS_DDL))
