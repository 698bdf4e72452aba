"""The console's pages: Overview, Runs, Run, Schedules, Stalls, Dead letters, Workers.

Handlers are plain functions: FastAPI runs them in its thread pool, where
the ledger's blocking reads belong. Every figure is read from the ledger (or
RabbitMQ's management API) for the request; nothing is kept between requests.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from dramatiq.errors import BrokerConnectionError
from fastapi import APIRouter, Request
from pika.exceptions import AMQPError
from starlette.responses import Response

from ..api.reads import last_runs, last_ticks, next_ticks, pauses, run_detail, schedule_actions
from ..errors import NoSuchRun
from ..metrics import QueueDepth, management_url, queue_depths, read_queues, vhost_of
from ..runs import run_id_or_refuse
from ..service import Service
from . import filters, ledger_reads
from .web import Console, Refused, query
from .words import cron_in_words

logger = logging.getLogger("wrls_actors.console")

PAGE_SIZE = 50
DEAD_LETTERS_SHOWN = 200
DAY = timedelta(hours=24)
TICKS_SHOWN = 50


def router(service: Service, console: Console) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/")
    def overview(request: Request) -> Response:
        visitor = console.signed_in(request)
        now = datetime.now(UTC)
        jobs = list(service.jobs)
        by_job = {s.job: s for s in service.schedules.values()}
        with service.engine.connect() as connection:
            last = last_runs(connection, jobs)
            figures = ledger_reads.job_figures(connection, jobs, now - DAY)
            paused = pauses(connection)
        rows = []
        for name in sorted(jobs):
            schedule = by_job.get(name)
            # A paused schedule has no next tick to show: not worked out.
            upcoming = next_ticks(schedule, service.tz, now, 1) if schedule and schedule.name not in paused else []
            rows.append(
                {
                    "job": name,
                    "last": last.get(name),
                    "figures": figures[name],
                    "schedule": _when(schedule) if schedule else "on demand",
                    "paused": schedule is not None and schedule.name in paused,
                    "next": upcoming[0] if upcoming else None,
                }
            )
        queues, queues_problem = _queues(service)
        return console.page(request, visitor, "overview.html", rows=rows, queues=queues, queues_problem=queues_problem)

    @routes.get("/runs")
    def runs(request: Request) -> Response:
        visitor = console.signed_in(request)
        chosen, cursor = filters.read(request.query_params, service.jobs, service.tz)
        with service.engine.connect() as connection:
            page, next_cursor = chosen.page(connection, cursor, PAGE_SIZE)
        filter_query = chosen.as_query()
        return console.page(
            request,
            visitor,
            "runs.html",
            runs=page,
            chosen=chosen,
            jobs=sorted(service.jobs),
            statuses=filters.STATUSES,
            triggers=filters.TRIGGERS,
            first_link="/runs?" + query(filter_query) if cursor else None,
            next_link="/runs?" + query({**filter_query, "cursor": next_cursor}) if next_cursor else None,
            csv_link="/runs.csv?" + query(filter_query),
        )

    def _run_context(run_id: str) -> dict[str, Any]:
        try:
            run_id = run_id_or_refuse(run_id[:100])
        except NoSuchRun as e:
            raise Refused(404, str(e)) from None
        with service.engine.connect() as connection:
            detail = run_detail(connection, run_id, service.jobs)
        if detail is None:
            raise Refused(404, f"no run {run_id}")
        fan_outs = [s for s in detail.steps if s.fan_out is not None]
        # Only then is "retry only the failed children" an answer the runtime can give (retries.py).
        failed_children = any(s.fan_out is not None and s.fan_out.failed for s in fan_outs)
        return {"run": detail, "fan_outs": fan_outs, "can_retry_children": failed_children}

    @routes.get("/runs/{run_id}")
    def run(request: Request, run_id: str) -> Response:
        visitor = console.signed_in(request)
        return console.page(request, visitor, "run.html", **_run_context(run_id))

    @routes.get("/runs/{run_id}/live")
    def run_live(request: Request, run_id: str) -> Response:
        """The part of the Run page that changes while the run goes: htmx swaps it in every two seconds."""
        visitor = console.signed_in(request)
        context = _run_context(run_id)
        response = console.page(request, visitor, "run_live.html", **context)
        if context["run"].status != "running":
            # Once the run has ended the whole page is read again, so its actions (retry) match its state.
            response.headers["HX-Refresh"] = "true"
        return response

    @routes.get("/schedules")
    def schedules(request: Request) -> Response:
        visitor = console.signed_in(request)
        now = datetime.now(UTC)
        with service.engine.connect() as connection:
            paused = pauses(connection)
            rows = [
                {
                    "schedule": s,
                    "words": _when(s),
                    "paused": paused.get(s.name),
                    "next": next_ticks(s, service.tz, now, 3) if s.name not in paused else [],
                    "last": last_ticks(connection, s.name, 1),
                }
                for s in sorted(service.schedules.values(), key=lambda s: s.name)
            ]
        return console.page(request, visitor, "schedules.html", rows=rows)

    @routes.get("/schedules/{name}")
    def schedule(request: Request, name: str) -> Response:
        visitor = console.signed_in(request)
        found = service.schedules.get(name)
        if found is None:
            raise Refused(404, f"there is no schedule {name[:100]!r}")
        now = datetime.now(UTC)
        with service.engine.connect() as connection:
            paused = pauses(connection).get(name)
            ticks = last_ticks(connection, name, TICKS_SHOWN)
            actions = schedule_actions(connection, name, 20)
        return console.page(
            request,
            visitor,
            "schedule.html",
            schedule=found,
            words=_when(found),
            paused=paused,
            next=next_ticks(found, service.tz, now, 10) if paused is None else [],
            ticks=ticks,
            actions=actions,
        )

    @routes.get("/stalls")
    def stalls(request: Request) -> Response:
        visitor = console.signed_in(request)
        now = datetime.now(UTC)
        late = service.late_steps()
        with service.engine.connect() as connection:
            recent = ledger_reads.incidents(connection, ("stalled",), now - DAY)
        return console.page(
            request, visitor, "stalls.html", late=late, recent=recent, beat_s=service.settings.heartbeat_s
        )

    @routes.get("/dead-letters")
    def dead_letters(request: Request) -> Response:
        visitor = console.signed_in(request)
        now = datetime.now(UTC)
        try:
            waiting, problem = service.dead_letters(limit=DEAD_LETTERS_SHOWN), None
        except (AMQPError, BrokerConnectionError) as e:
            logger.warning("dead-letter queues not readable: %s", e.__class__.__name__)
            waiting, problem = None, "RabbitMQ did not answer: the dead-letter queues cannot be read now"
        with service.engine.connect() as connection:
            recent = ledger_reads.incidents(connection, ledger_reads.DEAD_LETTER_KINDS, now - 14 * DAY)
        return console.page(
            request, visitor, "dead_letters.html", waiting=waiting, recent=recent, waiting_problem=problem
        )

    @routes.get("/workers")
    def workers(request: Request) -> Response:
        visitor = console.signed_in(request)
        found = service.workers()
        return console.page(request, visitor, "workers.html", workers=found, beat_s=service.settings.heartbeat_s)

    return routes


def _when(schedule: Any) -> str:
    return "off" if not schedule.enabled else cron_in_words(schedule.cron, schedule.every)


def _queues(service: Service) -> tuple[dict[str, QueueDepth], str | None]:
    """Per queue of this service: ready, being worked, delayed and dead-lettered messages, from RabbitMQ."""
    settings = service.settings
    url = management_url(settings.broker_url, settings.management_url)
    if url is None:
        return {}, "queue depths need RabbitMQ's management API (not in the embedded default)"
    try:
        listed = read_queues(url, vhost_of(settings.broker_url), timeout_s=3)
    except Exception as e:  # what the page says; the log has the cause
        logger.warning("RabbitMQ management API not readable: %s", e.__class__.__name__)
        return {}, "RabbitMQ's management API did not answer"
    return queue_depths(listed, service.queues()), None
