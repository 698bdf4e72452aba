"""The ``wrls-actors`` command.

Exit codes: 0 done; 1 failed; 2 bad usage or configuration (a job parameter
it does not declare, or of the wrong type); 3 the broker or the database could
not be reached; 4 refused (unknown job, already running, a run to cancel
that is not running or to retry that has not failed, a schedule already paused
or not paused, one that cannot be backfilled now, a dead letter not found, replayed before,
or whose run moved on). A backfill's bad range exits 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import logging
import os
import sys
import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from .api_client import ApiClient, Unreachable
from .runtime.cron import repeated_wall_time
from .runtime.database import MAX_REASON_CHARS
from .runtime.errors import BadMessage, ConfigurationError, JobRefused
from .runtime.logs import configure
from .runtime.params import params_from_text
from .runtime.processes import load_service, run_all, run_api, run_embedded, run_exporter, run_scheduler, run_worker
from .runtime.runs import CHILDREN_CANCELLED, run_id_or_refuse
from .runtime.scheduling import timeline

OK, FAILED, USAGE, UNREACHABLE, REFUSED = 0, 1, 2, 3, 4
DEFAULT_APP = "wrls_actors.app:service"

logger = logging.getLogger("wrls_actors")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wrls-actors", description="Every background job of WRLS.")
    p.add_argument("--app", default=DEFAULT_APP, help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", help="worker, scheduler, exporter and API together (embedded default when unconfigured)"
    )
    run.add_argument("--queues", nargs="+", help="queues the worker consumes (default: all)")
    worker = sub.add_parser("worker", help="run worker processes")
    worker.add_argument("--queues", nargs="+", help="queues to consume (default: all)")
    worker.add_argument("--processes", type=int, help="worker processes (default WRLS_WORKER_PROCESSES)")
    worker.add_argument("--threads", type=int, help="threads per process (default WRLS_WORKER_THREADS)")
    sub.add_parser("scheduler", help="send schedule ticks (periodiq) and watch for missed ones")
    sub.add_parser("exporter", help="serve /metrics and /healthz")
    sub.add_parser("api", help="serve the HTTP API (legacy routes, /api/v1) on WRLS_API_PORT")
    trigger = sub.add_parser("trigger", help="start a job now")
    trigger.add_argument("job")
    trigger.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter the job declares (`wrls-actors jobs` lists them), read as its type: "
        "true/false, a number, text; a list comma-separated or as a JSON array. "
        "Repeat for more",
    )
    trigger.add_argument("--force", action="store_true", help="start even if the job is already running")
    trigger.add_argument("--reason", help="why (optional; kept in the ledger with who started it)")
    cancel = sub.add_parser("cancel", help="cancel a running run: the step at work finishes, nothing after it starts")
    cancel.add_argument("run_id")
    cancel.add_argument("--reason", required=True, help="why (kept in the ledger with who cancelled)")
    retry = sub.add_parser("retry", help="retry a failed run from the step it failed at")
    retry.add_argument("run_id")
    retry.add_argument("--reason", required=True, help="why (kept in the ledger with who retried it)")
    retry.add_argument(
        "--failed-children", action="store_true", help="only the failed fan-out children of the fan-in it failed at"
    )
    pause = sub.add_parser("pause", help="pause a schedule: its ticks are recorded as paused and start nothing")
    pause.add_argument("schedule")
    pause.add_argument("--reason", required=True, help="why (kept in the ledger with who paused it)")
    resume = sub.add_parser("resume", help="resume a paused schedule")
    resume.add_argument("schedule")
    resume.add_argument("--reason", required=True, help="why (kept in the ledger with who resumed it)")
    resume.add_argument("--catch-up", action="store_true", help="start the job once for the latest paused tick")
    backfill = sub.add_parser(
        "backfill", help="run a schedule's ticks of a past range that never ran (missing, missed or paused)"
    )
    backfill.add_argument("schedule")
    backfill.add_argument(
        "--since", required=True, type=_moment, help="the first nominal time (included): ISO 8601 with a time zone"
    )
    backfill.add_argument(
        "--until", required=True, type=_moment, help="the end (excluded, not in the future): ISO 8601 with a time zone"
    )
    backfill.add_argument("--reason", required=True, help="why (kept in the ledger with who backfilled it)")
    dead = sub.add_parser("dead-letters", help="the messages in every dead-letter queue, with the ledger's reason")
    dead.add_argument("--limit", type=int, default=200, help="at most this many (1 to 1000, default 200)")
    replay = sub.add_parser("replay", help="replay a dead letter, once: back to its queue, its failed run taking it")
    replay.add_argument("message_id")
    replay.add_argument("--reason", required=True, help="why (kept in the ledger with who replayed it)")
    sub.add_parser("workers", help="worker processes and their last heartbeat")
    runs = sub.add_parser("runs", help="recent runs with status, counts and failures")
    runs.add_argument("--job", help="only this job")
    runs.add_argument("--limit", type=int, default=20)
    schedule = sub.add_parser("schedule", help="the day's timeline of ticks")
    schedule.add_argument("--date", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default today)")
    schedule.add_argument("--from", dest="start", default="00:00", help="HH:MM (default 00:00)")
    user = sub.add_parser("user", help="operators' accounts (viewer: reads; operator: acts)").add_subparsers(
        dest="action", required=True
    )
    for action, text_help in (("add", "add an account"), ("set", "change an account's role and password")):
        one = user.add_parser(action, help=text_help)
        one.add_argument("name")
        one.add_argument("--role", required=True, choices=["viewer", "operator"])
        one.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input (default: asked twice, not echoed)",
        )
    user.add_parser("remove", help="remove an account").add_argument("name")
    user.add_parser("list", help="the accounts and their roles")
    db = sub.add_parser("db", help="database commands")
    db.add_argument("action", choices=["upgrade"])
    sub.add_parser("queues", help="list the queues")
    sub.add_parser("jobs", help="the jobs and the parameters each takes (for trigger --param and start-job)")
    tracker = sub.add_parser("tracker", help="the tracker's report (send it with `trigger tracker`)")
    tracker.add_argument(
        "--dry-run", action="store_true", help="print the report a run started now would send; send and record nothing"
    )
    nald = sub.add_parser("nald", help="NALD extract tools").add_subparsers(dest="action", required=True)
    synth = nald.add_parser("synth", help="write a synthetic NALD extract (needs no broker or database)")
    synth.add_argument("--licences", type=int, required=True, help="how many licences (production has ~71,000)")
    synth.add_argument("--out", type=Path, required=True, help="the encrypted zip to write, e.g. nald_enc.zip")
    synth.add_argument("--seed", type=int, default=1, help="same seed, same data (default 1)")
    synth.add_argument("--password", action=_RefusedPassword, help=argparse.SUPPRESS)
    synth.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the outer zip's password from the first line of standard input (default: WRLS_NALD_ZIP_PASSWORD)",
    )
    return p


def _moment(given: str) -> datetime:
    try:
        moment = datetime.fromisoformat(given)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{given!r} is not an ISO 8601 date and time (2026-01-31T08:00:00Z)") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{given!r} needs a time zone (2026-01-31T08:00:00Z, or +01:00)")
    return moment


class _RefusedPassword(argparse.Action):
    """A password on a command line is readable by every user of the machine (ps, /proc) and kept in
    shell history: refused without echoing it, since argparse's own error would print the value."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(
            "--password is not accepted (a command line is visible to every user of the machine): "
            "give the password on standard input with --password-stdin, or set WRLS_NALD_ZIP_PASSWORD"
        )


def main(argv: list[str] | None = None, *, loaded: Callable[[], None] | None = None) -> int:
    """The command; ``loaded`` is called once the service is loaded, before the command runs (launch.py)."""
    args = parser().parse_args(argv)
    try:
        service = load_service(args.app)
    except ConfigurationError as e:
        print(f"wrls-actors: {e}", file=sys.stderr)
        return USAGE
    if loaded is not None:
        loaded()
    settings = service.settings
    configure(settings.log_level, settings.log_format)
    try:
        return COMMANDS[args.command](service, args)
    except ConfigurationError as e:
        print(f"wrls-actors: {e}", file=sys.stderr)
        return USAGE
    except BadMessage as e:
        print(f"wrls-actors: {e}", file=sys.stderr)
        return USAGE
    except JobRefused as e:
        print(f"wrls-actors: refused: {e}", file=sys.stderr)
        return REFUSED
    except OperationalError as e:
        print(f"wrls-actors: database unreachable: {e.orig}", file=sys.stderr)
        return UNREACHABLE
    except Unreachable as e:
        print(f"wrls-actors: {e}", file=sys.stderr)
        return UNREACHABLE
    except KeyboardInterrupt:
        return OK


def _needs_services(service, what: str) -> None:
    if service.settings.embedded:
        raise ConfigurationError(
            f"{what} needs {service.settings.prefix}_BROKER_URL and {service.settings.prefix}_DATABASE_URL "
            "(the embedded default lives inside one `run` process)"
        )


def cmd_run(service, args) -> int:
    if service.settings.embedded:
        return run_embedded(service, service.settings.worker_threads)
    from .runtime.api.server import address

    address(service)  # no token secret: refused here, before any process starts
    service.upgrade_database()
    return run_all(args.app, args.queues)


def cmd_worker(service, args) -> int:
    _needs_services(service, "worker")
    s = service.settings
    return run_worker(args.app, args.queues, args.processes or s.worker_processes, args.threads or s.worker_threads)


def cmd_scheduler(service, args) -> int:
    _needs_services(service, "scheduler")
    return run_scheduler(service)


def cmd_exporter(service, args) -> int:
    _needs_services(service, "exporter")
    return run_exporter(service)


def cmd_api(service, args) -> int:
    from .runtime.api.server import address

    _needs_services(service, "api")
    address(service)
    return run_api(service)


def cmd_trigger(service, args) -> int:
    job = service.jobs.get(args.job)
    # An unknown job is refused by trigger itself (exit 4), whatever its parameters.
    params = params_from_text(job.name, job.params, args.param) if job else {}
    reason = None if args.reason is None else _reason(args.reason)
    try:
        if service.settings.embedded:
            run_id = ApiClient(service.settings).start(args.job, params, args.force, reason)
        else:
            run_id = service.trigger(args.job, params, force=args.force, operator=_operator(), reason=reason)
    except Exception as e:
        if isinstance(e, (BadMessage, JobRefused, ConfigurationError, OperationalError)):
            raise
        print(f"wrls-actors: could not start {args.job}: {e}", file=sys.stderr)
        return UNREACHABLE
    print(run_id)
    return OK


def cmd_cancel(service, args) -> int:
    reason, run_id = _reason(args.reason), run_id_or_refuse(args.run_id)
    children = _act(
        service,
        lambda api: api.cancel(run_id, reason),
        lambda: service.cancel(run_id, operator=_operator(), reason=reason),
    )
    print(f"run {run_id} cancelled" + (f"; {children} fan-out children will not run" if children else ""))
    return OK


def cmd_retry(service, args) -> int:
    reason, run_id, only = _reason(args.reason), run_id_or_refuse(args.run_id), args.failed_children
    again = _act(
        service,
        lambda api: api.retry(run_id, reason, only),
        lambda: service.retry(run_id, operator=_operator(), reason=reason, failed_children_only=only),
    )
    print(f"run {run_id} retried" + (f": {again} failed children run again" if again else " from its failed step"))
    return OK


def _reason(text_given: str) -> str:
    reason = text_given.strip()
    if not reason or "\x00" in reason or len(reason) > MAX_REASON_CHARS:
        raise ConfigurationError(f"--reason needs 1 to {MAX_REASON_CHARS} characters of text")
    return reason


def _operator() -> str:
    return f"cli:{getpass.getuser()}"


def _act(service, through_api, directly):
    """An action the embedded default's process must take (through its API), or this process itself."""
    return through_api(ApiClient(service.settings)) if service.settings.embedded else directly()


def cmd_pause(service, args) -> int:
    reason, name = _reason(args.reason), args.schedule
    _act(service, lambda api: api.pause(name, reason), lambda: service.pause(name, operator=_operator(), reason=reason))
    print(f"schedule {name} paused: its ticks start nothing until `wrls-actors resume {name}`")
    return OK


def cmd_resume(service, args) -> int:
    reason, name, catch_up = _reason(args.reason), args.schedule, args.catch_up
    run_id = _act(
        service,
        lambda api: api.resume(name, reason, catch_up),
        lambda: service.resume(name, operator=_operator(), reason=reason, catch_up=catch_up),
    )
    print(f"schedule {name} resumed" + (f"; caught up with run {run_id}" if run_id else ""))
    return OK


def cmd_backfill(service, args) -> int:
    from .runtime.backfills import BadBackfillRange

    reason, name, since, until = _reason(args.reason), args.schedule, args.since, args.until
    try:
        done = _act(
            service,
            lambda api: api.backfill(name, since, until, reason),
            lambda: dataclasses.asdict(
                service.backfill(name, since=since, until=until, operator=_operator(), reason=reason)
            ),
        )
    except BadBackfillRange as e:
        raise ConfigurationError(str(e)) from None
    run_ids, queued = done["run_ids"], done["queued"]
    if not run_ids and not queued:
        print(f"schedule {name}: every tick of the range ran already; nothing to backfill")
        return OK
    print(
        f"schedule {name}: {len(run_ids) + len(queued)} ticks backfilled: {len(run_ids)} started now"
        + (f", {len(queued)} queued (the scheduler starts each when the job is not running)" if queued else "")
    )
    for run_id in run_ids:
        print(run_id)
    return OK


def cmd_dead_letters(service, args) -> int:
    if not 1 <= args.limit <= 1000:
        raise ConfigurationError(f"--limit must be 1 to 1000, got {args.limit}")
    if service.settings.embedded:
        answer = ApiClient(service.settings).dead_letters(args.limit)
        letters, depths, truncated = answer["dead_letters"], answer["depths"], answer["truncated"]
    else:
        found = service.dead_letters(limit=args.limit)
        letters = [dataclasses.asdict(letter) for letter in found.letters]
        depths, truncated = found.depths, found.truncated
    print(f"{'message id':36}  {'queue':16} {'actor':36} {'dead-lettered (UTC)':19}  reason")
    for letter in letters:
        when = letter["dead_lettered_at"]
        if isinstance(when, str):
            when = datetime.fromisoformat(when)
        shown = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if when else "-"
        reason = (letter["reason"] or "-") + (" (replayed before)" if letter["replayed_at"] else "")
        print(
            f"{letter['message_id'] or '-':36}  {letter['queue']:16} {letter['actor'] or '-':36} {shown:19}  {reason}"
        )
    total = sum(depths.values())
    print(f"{total} dead letters" + (f", the first {len(letters)} listed" if truncated else ""))
    return OK


def cmd_replay(service, args) -> int:
    reason, message_id = _reason(args.reason), args.message_id
    replayed = _act(
        service,
        lambda api: api.replay(message_id, reason),
        lambda: dataclasses.asdict(service.replay(message_id, operator=_operator(), reason=reason)),
    )
    run = f" (run {replayed['run_id']})" if replayed["run_id"] else ""
    print(f"message {message_id} of {replayed['actor']} replayed to {replayed['queue']}{run}")
    return OK


def cmd_workers(service, args) -> int:
    if service.settings.embedded:
        found = ApiClient(service.settings).workers()
    else:
        found = [dataclasses.asdict(w) for w in service.workers()]
    print(f"{'worker':40} {'state':8} {'heartbeat':>10}  queues")
    for w in found:
        print(f"{w['worker_id']:40} {w['state']:8} {w['heartbeat_age_s']:>9.1f}s  {' '.join(w['queues'])}")
    return OK


RUNS_QUERY = (
    "SELECT run_id, job, trigger, status, started_at, finished_at, counts, children_failed, "
    f"{CHILDREN_CANCELLED} AS children_cancelled, error, note "
    "FROM jobs.runs r {where} ORDER BY {order} started_at DESC LIMIT :limit"
)


def cmd_runs(service, args) -> int:
    if service.settings.embedded:
        rows = [_Run.from_api(r) for r in ApiClient(service.settings).runs(args.job, args.limit)]
    else:
        # One job's: as a range, in runs_job_started's order, which no other index has (see reads.last_runs).
        where = "WHERE r.job >= :job AND r.job <= :job" if args.job else ""
        order = "job," if args.job else ""
        with service.engine.connect() as connection:
            found = connection.execute(
                text(RUNS_QUERY.format(where=where, order=order)), {"job": args.job, "limit": args.limit}
            )
            rows = [_Run(**r._mapping) for r in found.all()]
    print(f"{'run':8}  {'job':38} {'trigger':8} {'status':24} {'started (UTC)':19} {'took':>8}  counts / failures")
    for r in rows:
        took = f"{(r.finished_at - r.started_at).total_seconds():.1f}s" if r.finished_at else "-"
        detail = f"({r.note}) " if r.note else ""
        detail += json.dumps(r.counts) if r.counts else ""
        if r.children_failed:
            detail += f" {r.children_failed} children failed"
        if r.children_cancelled:
            detail += f" {r.children_cancelled} children cancelled"
        if r.error:
            detail += f" error: {r.error}"
        print(
            f"{str(r.run_id)[:8]}  {r.job:38} {r.trigger:8} {r.status:24} "
            f"{r.started_at.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S'):19} {took:>8}  {detail.strip()}"
        )
    return OK


@dataclasses.dataclass
class _Run:
    run_id: str
    job: str
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict
    children_failed: int
    children_cancelled: int
    error: str | None
    note: str | None

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> _Run:
        fields: dict[str, Any] = {f.name: row.get(f.name) for f in dataclasses.fields(cls)}
        for moment in ("started_at", "finished_at"):
            if fields[moment]:
                fields[moment] = datetime.fromisoformat(fields[moment])
        return cls(**fields)


def cmd_schedule(service, args) -> int:
    day = args.date or datetime.now(service.tz).date()
    try:
        start_time = time.fromisoformat(args.start)
    except ValueError:
        print(f"wrls-actors: --from takes HH:MM, got {args.start!r}", file=sys.stderr)
        return USAGE
    start = datetime.combine(day, start_time, tzinfo=service.tz)
    end = start + timedelta(days=1)
    for schedule in service.schedules.values():
        if schedule.enabled and schedule.every is not None:
            seconds = int(schedule.every.total_seconds())
            every = f"{seconds} seconds" if seconds < 60 else f"{seconds // 60} minute{'s' if seconds >= 120 else ''}"
            print(f"- {schedule.title or schedule.job} is run every {every}")
    print()
    print("|Time|Job|App|")
    print("|----|---|---|")
    previous = None
    for moment, schedule in timeline(service.schedules, start, end, service.tz):
        # In the hour repeated when clocks go back, the wall time alone is ambiguous.
        shown = moment.strftime("%H:%M %Z" if repeated_wall_time(moment, service.tz) else "%H:%M")
        print(f"|{shown if shown != previous else ' -  '}|{schedule.title or schedule.job}|{schedule.note}|")
        previous = shown
    disabled = [s.job for s in service.schedules.values() if not s.enabled]
    if disabled:
        print(f"\nswitched off: {', '.join(disabled)}")
    return OK


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ConfigurationError("no terminal to ask the password on: give it with --password-stdin")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConfigurationError("the two passwords differ")
    return first


def cmd_user(service, args) -> int:
    from .runtime import accounts

    _needs_services(service, "user")
    if args.action == "list":
        for u in accounts.users(service.engine):
            print(f"{u.name:40} {u.role:8} since {u.created_at:%Y-%m-%d}")
        return OK
    if args.action == "remove":
        accounts.remove(service.engine, args.name)
        print(f"user {args.name} removed")
        return OK
    accounts.check_name(args.name)
    change = accounts.add if args.action == "add" else accounts.set_
    change(service.engine, args.name, args.role, _new_password(args.password_stdin))
    print(f"user {args.name} {'added' if args.action == 'add' else 'changed'}: {args.role}")
    return OK


def cmd_db(service, args) -> int:
    if service.settings.embedded:
        raise ConfigurationError("db upgrade needs WRLS_DATABASE_URL (the embedded default upgrades itself)")
    service.upgrade_database()
    print("database is up to date")
    return OK


def cmd_queues(service, args) -> int:
    for name in service.queues():
        print(name)
    return OK


def cmd_jobs(service, args) -> int:
    for job in service.jobs.values():
        print(job.name)
        for param in job.params:
            print(f"    {param.describe().replace('`', '')}")
    return OK


def cmd_tracker(service, args) -> int:
    if not args.dry_run:
        # Sent outside a run, a report would not move the window on: the next run would repeat it.
        print(
            "wrls-actors: the tracker's report is sent by a run, which the ledger records: "
            "`wrls-actors trigger tracker` sends it now, `wrls-actors tracker --dry-run` prints it",
            file=sys.stderr,
        )
        return USAGE
    _needs_services(service, "tracker --dry-run")
    from .config import config
    from .jobs.tracker.preview import preview

    print(preview(service.engine, config()))
    return OK


def cmd_nald(service, args) -> int:
    from .tools.nald_synth import write_synthetic_extract

    variable = f"{service.settings.prefix}_NALD_ZIP_PASSWORD"
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ConfigurationError("nald synth --password-stdin: the first line of standard input is empty")
    else:
        password = os.environ.get(variable)
    if not password:
        raise ConfigurationError(
            f"nald synth needs a password for the outer zip: set {variable} "
            "or give it on standard input with --password-stdin"
        )
    if args.licences < 0:
        raise ConfigurationError(f"--licences must be 0 or more, got {args.licences}")
    if not args.out.parent.is_dir():
        raise ConfigurationError(f"--out: no such directory {args.out.parent}")
    started = clock.monotonic()
    counts = write_synthetic_extract(args.out, password, args.licences, args.seed)
    print(
        f"nald synth: {args.licences} licences, {sum(counts.values())} rows in {len(counts)} tables, "
        f"{args.out.stat().st_size} bytes, {clock.monotonic() - started:.1f} s -> {args.out}"
    )
    return OK


COMMANDS = {
    "run": cmd_run,
    "worker": cmd_worker,
    "scheduler": cmd_scheduler,
    "exporter": cmd_exporter,
    "api": cmd_api,
    "trigger": cmd_trigger,
    "cancel": cmd_cancel,
    "retry": cmd_retry,
    "pause": cmd_pause,
    "resume": cmd_resume,
    "backfill": cmd_backfill,
    "runs": cmd_runs,
    "dead-letters": cmd_dead_letters,
    "replay": cmd_replay,
    "workers": cmd_workers,
    "schedule": cmd_schedule,
    "db": cmd_db,
    "user": cmd_user,
    "queues": cmd_queues,
    "jobs": cmd_jobs,
    "nald": cmd_nald,
    "tracker": cmd_tracker,
}
