"""The console's actions: trigger, retry, cancel, pause, resume, backfill and replay; by an operator, with a reason.

Every action is a form POST carrying the session's CSRF token, refused with
403 to a viewer whatever the page showed, and recorded in ``jobs.events`` by
the runtime (who, what, why, when). After it, the browser is sent to the page
of what it touched (POST, redirect, GET), where the action shows.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from ..backfills import BadBackfillRange
from ..database import MAX_REASON_CHARS
from ..dead_letters import NoSuchDeadLetter
from ..errors import AlreadyRunning, BadMessage, JobRefused, NoSuchRun, UnknownJob
from ..params import Param
from ..runs import run_id_or_refuse
from ..service import Service
from .filters import moment
from .web import Console, Refused


def reason_of(form: dict[str, str]) -> str:
    reason = form.get("reason", "").strip()
    if not reason:
        raise Refused(400, "reason: say why; it is kept in the ledger with your name")
    if len(reason) > MAX_REASON_CHARS or "\x00" in reason:
        raise Refused(400, f"reason: at most {MAX_REASON_CHARS} characters of text")
    return reason


def _run_id(given: str) -> str:
    try:
        return run_id_or_refuse(given[:100])
    except NoSuchRun as e:
        raise Refused(404, str(e)) from None


def router(service: Service, console: Console) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.post("/runs/{run_id}/retry")
    async def retry(request: Request, run_id: str) -> Response:
        visitor, form = await console.acting(request)
        run_id = _run_id(run_id)
        reason = reason_of(form)
        children_only = form.get("only", "") == "failed-children"
        await _do(service.retry, run_id, operator=visitor.name, reason=reason, failed_children_only=children_only)
        return console.redirect(request, f"/runs/{run_id}", visitor)

    @routes.post("/runs/{run_id}/cancel")
    async def cancel(request: Request, run_id: str) -> Response:
        visitor, form = await console.acting(request)
        run_id = _run_id(run_id)
        await _do(service.cancel, run_id, operator=visitor.name, reason=reason_of(form))
        return console.redirect(request, f"/runs/{run_id}", visitor)

    @routes.post("/schedules/{name}/pause")
    async def pause(request: Request, name: str) -> Response:
        visitor, form = await console.acting(request)
        await _do(service.pause, _schedule(service, name), operator=visitor.name, reason=reason_of(form))
        return console.redirect(request, f"/schedules/{name}", visitor)

    @routes.post("/schedules/{name}/resume")
    async def resume(request: Request, name: str) -> Response:
        visitor, form = await console.acting(request)
        catch_up = form.get("catch_up", "") == "yes"
        await _do(
            service.resume, _schedule(service, name), operator=visitor.name, reason=reason_of(form), catch_up=catch_up
        )
        return console.redirect(request, f"/schedules/{name}", visitor)

    @routes.post("/schedules/{name}/backfill")
    async def backfill(request: Request, name: str) -> Response:
        visitor, form = await console.acting(request)
        schedule = _schedule(service, name)
        since = moment("since", form.get("since", "").strip(), service.tz)
        until = moment("until", form.get("until", "").strip(), service.tz)
        reason = reason_of(form)
        await _do(service.backfill, schedule, since=since, until=until, operator=visitor.name, reason=reason)
        return console.redirect(request, f"/schedules/{name}", visitor)

    # `:path`: a message id may hold a `/`, which the path has decoded before routing.
    @routes.post("/dead-letters/{message_id:path}/replay")
    async def replay(request: Request, message_id: str) -> Response:
        visitor, form = await console.acting(request)
        replayed = await _do(service.replay, message_id[:200], operator=visitor.name, reason=reason_of(form))
        return console.redirect(request, f"/runs/{replayed.run_id}" if replayed.run_id else "/dead-letters", visitor)

    @routes.get("/trigger/{job}")
    def trigger_form(request: Request, job: str) -> Response:
        visitor = console.signed_in(request)
        found = _job(service, job)
        return console.page(request, visitor, "trigger.html", job=found, values={}, problems={})

    @routes.post("/trigger/{job}")
    async def trigger(request: Request, job: str) -> Response:
        visitor, form = await console.acting(request)
        found = _job(service, job)
        reason = reason_of(form)
        params = {p.name: v for p in found.params if (v := _value(p, form.get(f"param.{p.name}", ""))) is not None}
        try:
            run_id = await run_in_threadpool(
                service.trigger,
                found.name,
                params,
                trigger="http",
                force=form.get("force", "") == "yes",
                operator=visitor.name,
                reason=reason,
            )
        except BadMessage as e:
            problems = {name: problem for name, problem in e.fields} or {"": str(e)}
            values = {p.name: form.get(f"param.{p.name}", "") for p in found.params}
            return console.page(
                request, visitor, "trigger.html", status=422, job=found, values=values, problems=problems
            )
        except AlreadyRunning as e:
            raise Refused(409, f"{found.name} is already running (run {e.run_id}); it was not started again") from None
        except JobRefused as e:
            raise Refused(409, str(e)) from None
        return console.redirect(request, f"/runs/{run_id}", visitor)

    return routes


async def _do(action: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await run_in_threadpool(action, *args, **kwargs)
    except (NoSuchRun, UnknownJob, NoSuchDeadLetter) as e:
        raise Refused(404, str(e)) from None
    except BadBackfillRange as e:
        raise Refused(400, f"{e.field}: {e}") from None
    except JobRefused as e:
        # Not running, not failed, already paused, not paused: what the operator asked cannot be done now.
        raise Refused(409, str(e)) from None


def _schedule(service: Service, name: str) -> str:
    if name not in service.schedules:
        raise Refused(404, f"there is no schedule {name[:100]!r}")
    return name


def _job(service: Service, name: str) -> Any:
    found = service.jobs.get(name)
    if found is None:
        raise Refused(404, f"there is no job {name[:100]!r}")
    return found


def _value(param: Param, raw: str) -> Any:
    """A form field as the parameter's JSON value; what cannot be read is passed on for the job's own check
    to name (BadMessage), so every refusal reads the same wherever the start came from."""
    raw = raw.strip()
    if param.type is bool:
        return True if raw == "yes" else (None if param.default is None and not param.required else False)
    if raw == "":
        return None
    if param.many:
        return [_scalar(param, part.strip()) for part in raw.split(",") if part.strip()]
    return _scalar(param, raw)


def _scalar(param: Param, raw: str) -> Any:
    try:
        if param.type is int:
            return int(raw)
        if param.type is float:
            return float(raw)
    except ValueError:
        pass  # passed on as typed, for the job's check to name
    return raw
