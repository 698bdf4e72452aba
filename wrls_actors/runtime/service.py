"""The runtime assembled: settings, broker, actors, ledger, runs and schedules.

An application builds one ``Service`` from its jobs and schedules. Every
process (worker, scheduler, exporter, CLI) builds the same service, so they
agree on actor names and queues. The platform knows nothing of the
application: names, queues and policies all come from the definitions.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import dramatiq
from sqlalchemy import Connection, Engine, text

from . import backfills, child_batches, chunks, envelope, pauses, retention, retries
from .api.trigger_route import TriggerRoute
from .calendar import Calendar
from .cron import fire_times, parse_cron, parse_interval
from .database import bump, engine_for, record_action, upgrade
from .dead_letters import MAX_LIST, DeadLetters, Replayed, list_dead_letters, replay_dead_letter
from .definitions import Job, Schedule, Step, StepContext
from .errors import BadMessage, ConfigurationError, JobRefused, PermanentError, UnknownJob
from .fan_in import new_arrival
from .ledger import Ledger
from .lifecycle import CHILD, STEP, run_started_at
from .logs import step_context
from .runs import RunControl
from .scheduling import Scheduling
from .settings import Settings
from .signing import Signatures, Signer
from .stalls import LateStep, late_steps
from .workers import Worker, workers

logger = logging.getLogger(__name__)

START_ACTOR = "start-job"
TICK_PREFIX = "tick"
SCHEDULE_QUEUE = "schedule"
CONTROL_QUEUE = "control"


def apply_overrides(schedules: Iterable[Schedule], overrides: Mapping[str, str], prefix: str) -> list[Schedule]:
    """Environment overrides: a cron expression, ``every 15s``, or ``off``."""
    result = []
    known = set()
    for schedule in schedules:
        known.add(schedule.job)
        value = overrides.get(schedule.job)
        if value is None:
            result.append(schedule)
        elif value.strip().lower() in ("off", "disabled", "false", "0"):
            result.append(dataclasses.replace(schedule, enabled=False))
        elif value.strip().lower().startswith("every"):
            result.append(dataclasses.replace(schedule, cron=None, every=parse_interval(value), enabled=True))
        else:
            parse_cron(value)
            result.append(dataclasses.replace(schedule, cron=value.strip(), every=None, enabled=True))
    unknown = set(overrides) - known
    if unknown:
        names = ", ".join(f"{prefix}_SCHEDULE_{n.upper().replace('-', '_')}" for n in sorted(unknown))
        raise ConfigurationError(f"{names}: no schedule of that name")
    return result


class Service:
    def __init__(
        self,
        settings: Settings,
        jobs: Iterable[Job],
        schedules: Iterable[Schedule] = (),
        *,
        create_tables: Callable[[Connection], None] | None = None,
        prepare_embedded: Callable[[str], Iterable[str] | None] | None = None,
        http_routes: Iterable[TriggerRoute] = (),
    ) -> None:
        """``create_tables`` creates the application's own tables; ``db upgrade`` runs it after the ledger's.

        ``prepare_embedded`` gets the embedded default's folder before it starts,
        to put there whatever the application's jobs need to run without
        services; it returns the jobs to start as soon as the worker runs.

        ``http_routes`` are the application's routes that start a job as an
        older caller expects (the API serves them beside /api/v1).
        """
        self.settings = settings
        self._create_tables = create_tables
        self.prepare_embedded = prepare_embedded
        self.http_routes = tuple(http_routes)
        self.jobs: dict[str, Job] = {}
        for job in jobs:
            if job.name in self.jobs:
                raise ConfigurationError(f"job {job.name} declared twice")
            if job.name == retention.JOB:
                raise ConfigurationError(f"job {job.name}: the name of the runtime's own job")
            self.jobs[job.name] = job
        # The runtime's own job, in every service; an application may schedule it otherwise (or not at all).
        self.jobs[retention.JOB] = retention.retention_job(
            CONTROL_QUEUE, lambda: (settings.ledger_retention_days, settings.ledger_failure_retention_days)
        )
        schedules = list(schedules)
        if not any(s.name == retention.JOB for s in schedules):
            schedules.append(retention.retention_schedule())
        self.schedules: dict[str, Schedule] = {}
        for schedule in apply_overrides(schedules, settings.schedule_overrides, settings.prefix):
            if schedule.name in self.schedules:
                raise ConfigurationError(f"schedule {schedule.name} declared twice")
            if (schedule.cron is None) == (schedule.every is None):
                raise ConfigurationError(f"schedule {schedule.name}: give a cron expression or an interval, not both")
            if schedule.cron:
                parse_cron(schedule.cron)
            target = self.jobs.get(schedule.job)
            required = [p.name for p in target.params if p.required] if target else []
            if required:
                # A tick starts with no parameters: every one of its starts would be refused.
                raise ConfigurationError(f"schedule {schedule.name}: its job requires {', '.join(required)}")
            self.schedules[schedule.name] = schedule
        self.tz = ZoneInfo(settings.timezone)
        self._database_url = settings.database_url
        self._declared = False

    # -- parts ----------------------------------------------------------------

    def use_database(self, url: str) -> None:
        """Point at a database chosen at start (the embedded default)."""
        self._database_url = url
        self.__dict__.pop("engine", None)

    @property
    def engine(self) -> Engine:
        if self._database_url is None:
            raise ConfigurationError(f"no database: set {self.settings.prefix}_DATABASE_URL")
        return engine_for(self._database_url)

    @cached_property
    def calendar(self) -> Calendar:
        """The schedules as this service runs them, for steps asking when a job fires."""
        return Calendar(self.schedules.values(), self.tz)

    @cached_property
    def ledger(self) -> Ledger:
        s = self.settings
        return Ledger(
            lambda: self.engine,
            flush_ms=s.ledger_flush_ms,
            max_deliveries=s.max_deliveries,
            heartbeat_s=s.heartbeat_s,
            stall_after_s=s.stall_after_s,
            stall_grace_s=s.stall_grace_s,
            sweep_s=s.sweep_s,
            control_factory=lambda: self.control,
        )

    @cached_property
    def broker(self) -> dramatiq.Broker:
        from .broker import build_broker

        s = self.settings
        encoder = envelope.EnvelopeEncoder(self._record_rejected, max_bytes=s.max_message_bytes)
        signatures = Signatures(Signer(s.message_key, s.message_key_previous), self._record_rejected)
        broker = build_broker(s.broker_urls, self.ledger, signatures, encoder, queue_type=s.queue_type)
        self._declare(broker)
        return broker

    @cached_property
    def control(self) -> RunControl:
        return RunControl(self.engine, self.broker, self.jobs, self.settings.chunk_limit)

    @cached_property
    def scheduling(self) -> Scheduling:
        s = self.settings
        return Scheduling(
            self.engine,
            self.control,
            self.schedules,
            tz=self.tz,
            late_after_s=s.late_after_s,
            missed_after_s=s.missed_after_s,
            catchup_window_h=s.catchup_window_h,
        )

    def upgrade_database(self) -> None:
        upgrade(self.engine)
        if self._create_tables is not None:
            with self.engine.begin() as connection:
                self._create_tables(connection)

    # -- actors ---------------------------------------------------------------

    def _declare(self, broker: dramatiq.Broker) -> None:
        for job in self.jobs.values():
            for index, step in enumerate(job.steps):
                self._declare_step(broker, job, index, step, STEP)
                if step.fan_out is not None:
                    self._declare_step(broker, job, index, step.fan_out, CHILD)
        dramatiq.actor(
            actor_name=START_ACTOR,
            queue_name=CONTROL_QUEUE,
            broker=broker,
            max_retries=3,
            time_limit=60_000,
            throws=(BadMessage,),
            public=True,
        )(self._start_message)
        for schedule in self.schedules.values():
            self._declare_tick(broker, schedule)
        self._declared = True

    def _declare_step(self, broker: dramatiq.Broker, job: Job, index: int, step: Step, role: str) -> None:
        actor_name = job.actor_name(step)
        step_logger = logging.getLogger(f"jobs.{actor_name}")

        def context(
            message: Mapping[str, Any], run_id: Any, params: dict[str, Any], item: Any = None, items: Any = None
        ) -> StepContext:
            """``message``: what the Recorder put in ``step_context`` for the message at work."""
            return StepContext(
                run_id=run_id,
                job=job.name,
                step=step.name,
                params=params,
                message_id=message.get("message_id", ""),
                attempt=message.get("attempt", 1),
                logger=logging.LoggerAdapter(step_logger, {"run_id": str(run_id)}),
                item=item,
                items=items,
                engine=self.engine,
                calendar=self.calendar,
            )

        def run_chunk_step(**kwargs: Any) -> None:
            run_id, params, items, first = envelope.chunk_arguments(kwargs)
            message = step_context.get() or {}
            options = message.get("options") or {}
            started = time.monotonic()

            def do(part: list[Any]) -> Counter[str]:
                ctx = context(message, run_id, params, items=part)
                step.fn(ctx)
                return ctx.counts

            outcome = chunks.run_chunk(do, items, first, last_attempt=options.get("retries", 0) >= step.max_retries)
            for failure in outcome.failures:
                logger.warning(
                    "%s: item %s failed: %s",
                    actor_name,
                    chunks.name_item(failure.item),
                    failure.error,
                    extra={"run_id": str(run_id)},
                )
            self.control.arrive(
                str(run_id),
                index,
                message.get("message_id", ""),
                failed=False,
                counts=outcome.counts,
                run_started_at=run_started_at(options),
                items=len(items),
                failures=[f.as_json() for f in outcome.failures],
                started_at=message.get("started_at"),
                duration_ms=(time.monotonic() - started) * 1000,
            )
            logger.info(
                "%s done: %d items in %.0f ms (%d calls), %d failed, counts %s",
                actor_name,
                len(items),
                (time.monotonic() - started) * 1000,
                outcome.calls,
                len(outcome.failures),
                dict(outcome.counts),
                extra={
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    "counts": dict(outcome.counts),
                    "status": "succeeded",
                },
            )

        def run_step(**kwargs: Any) -> None:
            run_id, params, item = envelope.step_arguments(kwargs, child=role == CHILD)
            message = step_context.get() or {}
            ctx = context(message, run_id, params, item=item)
            started = time.monotonic()
            result = step.fn(ctx)
            if role == CHILD:
                child_batches.observe(actor_name, time.monotonic() - started)
                arrival = new_arrival(
                    str(run_id),
                    index,
                    ctx.message_id,
                    failed=False,
                    counts=ctx.counts,
                    run_started_at=run_started_at(message.get("options")),
                    started_at=message.get("started_at"),
                    duration_ms=(time.monotonic() - started) * 1000,
                )
                child_batches.arrive(self.control, arrival)
            elif ctx.ending is not None:
                self.control.end(str(run_id), index, ctx.ending, ctx.counts, message_id=ctx.message_id)
            elif step.fan_out is not None:
                items = list(result or ())
                ctx.count(f"{step.fan_out.name}_queued", len(items))
                self.control.fan_out(str(run_id), index, items, ctx.counts)
            else:
                self.control.advance(str(run_id), index, ctx.counts, message_id=ctx.message_id)
            if not logger.isEnabledFor(logging.INFO):
                return  # its arguments are built for every child, logged or not
            logger.info(
                "%s done in %.0f ms, counts %s",
                actor_name,
                (time.monotonic() - started) * 1000,
                dict(ctx.counts),
                extra={
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    "counts": dict(ctx.counts),
                    "status": "succeeded",
                },
            )

        actor_fn = run_chunk_step if role == CHILD and step.chunk is not None else run_step
        actor_fn.__name__ = actor_name.replace(".", "_").replace("-", "_")
        dramatiq.actor(
            actor_name=actor_name,
            queue_name=job.queue_of(step),
            broker=broker,
            time_limit=int(step.time_limit.total_seconds() * 1000),
            max_retries=step.max_retries,
            min_backoff=int(step.min_backoff.total_seconds() * 1000),
            max_backoff=int(step.max_backoff.total_seconds() * 1000),
            throws=(BadMessage, PermanentError),
            step_role=role,
            job_name=job.name,
            step_index=index,
            # A chunk is a child's worth of work already; other children may run in batches (child_batches.py).
            batchable=role == CHILD and step.chunk is None,
        )(actor_fn)

    def _declare_tick(self, broker: dramatiq.Broker, schedule: Schedule) -> None:
        def tick(**kwargs: Any) -> None:
            if kwargs:
                raise BadMessage(f"a tick takes no arguments, got {', '.join(sorted(kwargs))}")
            context = step_context.get() or {}
            options = context.get("options") or {}
            scheduled_at = options.get("scheduled_at")
            if not scheduled_at:
                raise BadMessage("a tick needs the scheduled_at option (periodiq sets it)")
            nominal = datetime.fromisoformat(str(scheduled_at)).astimezone(UTC)
            if not options.get("subtick"):
                # periodiq stamps the second it woke up (mid-minute at start): the tick is the minute.
                nominal = nominal.replace(second=0, microsecond=0)
            if schedule.every is not None and not options.get("subtick"):
                self._expand_minute(broker, schedule, nominal)
                return
            self.scheduling.handle(schedule.name, nominal, context.get("message_id"))

        # An interval schedule wakes every minute and sends that minute's ticks (_expand_minute).
        periodic = parse_cron(schedule.cron) if schedule.cron is not None else parse_cron("* * * * *")
        tick.__name__ = f"tick_{schedule.name}".replace("-", "_")
        dramatiq.actor(
            actor_name=f"{TICK_PREFIX}.{schedule.name}",
            queue_name=SCHEDULE_QUEUE,
            broker=broker,
            max_retries=5,
            min_backoff=1_000,
            max_backoff=10_000,
            time_limit=60_000,
            throws=(BadMessage,),
            **({"periodic": periodic} if schedule.enabled else {}),
        )(tick)

    def _expand_minute(self, broker: dramatiq.Broker, schedule: Schedule, minute: datetime) -> None:
        """periodiq fires once a minute: an interval schedule's ticks within it are delayed messages.

        A scheduler starting mid-minute finds some of them past: only the latest
        is sent (the catch-up rule), not all at once to skip each other as
        overlapping. The earlier ones were sent by a scheduler running then, or
        the watch records them missed.
        """
        actor = broker.get_actor(f"{TICK_PREFIX}.{schedule.name}")
        now = datetime.now(UTC)
        times = fire_times(schedule, minute - timedelta(microseconds=1), minute + timedelta(seconds=59.999), self.tz)
        past = [t for t in times if t <= now]
        for nominal in past[-1:] + times[len(past) :]:
            delay_ms = max(0, int((nominal - now).total_seconds() * 1000))
            actor.send_with_options(scheduled_at=nominal.isoformat(), subtick=True, delay=delay_ms or None)

    def _start_message(self, **kwargs: Any) -> None:
        job, params, force = envelope.start_arguments(kwargs, self.jobs)
        context = step_context.get() or {}
        try:
            self.control.start(job, "message", params, trigger_key=context.get("message_id"), force=force)
        except JobRefused as e:
            logger.warning("start of %s refused: %s", job, e)
            with self.engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO jobs.events (kind, job, actor, message_id, detail) "
                        "VALUES ('start-refused', :job, :actor, :mid, :detail)"
                    ),
                    {"job": job, "actor": START_ACTOR, "mid": context.get("message_id"), "detail": str(e)},
                )

    def _record_rejected(self, body: bytes, reason: str) -> None:
        logger.error("message rejected to the dead-letter queue: %s; body %s", reason, envelope.excerpt(body))
        # Its id, if it has one, so the dead letter's listing finds the reason (not parsed when oversized).
        message_id = envelope.message_id_of(body) if len(body) <= self.settings.max_message_bytes else None
        with self.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO jobs.events (kind, message_id, detail) VALUES ('rejected', :m, :detail)"),
                {"m": message_id and message_id[:200], "detail": f"{reason}; body {envelope.excerpt(body)}"},
            )
            bump(connection, "messages_rejected_total", {})

    # -- for the CLI and other services -----------------------------------------

    def trigger(
        self,
        job: str,
        params: Mapping[str, Any] | None = None,
        *,
        trigger: str = "cli",
        force: bool = False,
        key: str | None = None,
        operator: str | None = None,
        reason: str | None = None,
    ) -> str:
        """Start a job now (refused while it runs, unless forced); never touches queued work.

        Raises BadMessage when ``params`` are not what the job declares,
        UnknownJob, AlreadyRunning, or KeyReused. ``key`` has the meaning of a
        start message's id: a key seen before gives the run it started. With
        ``operator`` (a person's start: the CLI, the API), a ``run-triggered``
        event keeps who and why (``reason``, optional), written in the
        transaction that creates the run.
        """
        if job not in self.jobs:
            scheduled = job in {s.job for s in self.schedules.values()}
            raise UnknownJob(f"job {job!r} has no steps yet" if scheduled else f"unknown job {job!r}")
        if operator is None:
            return self.control.start(job, trigger, params, force=force, trigger_key=key)
        detail = f"started by {operator} ({trigger})" + (", forced" if force else "")

        def audit(connection: Connection, run_id: str) -> None:
            record_action(
                connection, "run-triggered", operator=operator, reason=reason, detail=detail, job=job, run_id=run_id
            )

        return self.control.start(job, trigger, params, force=force, trigger_key=key, claim=audit)

    def cancel(self, run_id: str, *, operator: str, reason: str) -> int:
        """Cancel a running run (see RunControl.cancel); returns the fan-out children cancelled."""
        cancelled = self.control.cancel(run_id, operator, reason)
        logger.warning("run %s cancelled by %s: %s", run_id, operator, reason, extra={"run_id": run_id})
        return cancelled

    def retry(self, run_id: str, *, operator: str, reason: str, failed_children_only: bool = False) -> int:
        """Retry a failed run from its failed step, or only its failed fan-out children (retries.py)."""
        return retries.retry(self.control, run_id, operator, reason, failed_children_only=failed_children_only)

    def pause(self, schedule: str, *, operator: str, reason: str) -> None:
        """Pause a schedule: its ticks are claimed as ``paused`` until resumed (pauses.py)."""
        pauses.pause(self.scheduling, schedule, operator, reason)

    def resume(self, schedule: str, *, operator: str, reason: str, catch_up: bool = False) -> str | None:
        """Resume a schedule; with ``catch_up``, its job starts for the latest paused tick (the run id)."""
        return pauses.resume(self.scheduling, schedule, operator, reason, catch_up=catch_up)

    def backfill(
        self, schedule: str, *, since: datetime, until: datetime, operator: str, reason: str
    ) -> backfills.Backfill:
        """Run the schedule's ticks of ``[since, until)`` that never ran, under its overlap policy (backfills.py)."""
        return backfills.backfill(self.scheduling, schedule, since=since, until=until, operator=operator, reason=reason)

    def dead_letters(self, *, limit: int = MAX_LIST) -> DeadLetters:
        """The messages in every queue's dead-letter queue, with the ledger's reason (dead_letters.py)."""
        return list_dead_letters(self.engine, self.broker, self.queues(), limit=limit)

    def replay(self, message_id: str, *, operator: str, reason: str) -> Replayed:
        """Move one dead letter back to its queue, once (dead_letters.py)."""
        return replay_dead_letter(self.control, self.queues(), message_id, operator=operator, reason=reason)

    def workers(self) -> list[Worker]:
        """Worker processes alive, gone (no heartbeat for the stall time) or stopped within a day."""
        with self.engine.connect() as connection:
            return workers(connection, stall_after_s=self.settings.stall_after_s)

    def late_steps(self, *, limit: int = 500) -> list[LateStep]:
        """Steps stalled, or running with no heartbeat for two beats, oldest first, with their worker."""
        with self.engine.connect() as connection:
            return late_steps(connection, late_after_s=2 * self.settings.heartbeat_s, limit=limit)

    def queues(self) -> list[str]:
        names = {SCHEDULE_QUEUE, CONTROL_QUEUE}
        for job in self.jobs.values():
            for step in job.steps:
                names.add(job.queue_of(step))
                if step.fan_out:
                    names.add(job.queue_of(step.fan_out))
        return sorted(names)
