"""The long-running processes: worker, scheduler, exporter, and all three together.

The worker is Dramatiq's own CLI (process supervision, graceful shutdown,
signal handling), pointed at ``entry:broker``. The scheduler is periodiq's
``Scheduler`` run by us, so that a broker outage at a tick restarts it (and
the missed-tick watch records what was lost) instead of exiting as periodiq
does. Beside periodiq, the scheduler sends the ticks periodiq cannot (a time
the clocks skip in spring, sent right after the gap) and records its clock's
offset from the database's with every watch. ``run`` starts the three as
child processes and stops them together.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from .cron import shifted_times
from .service import TICK_PREFIX, Service

logger = logging.getLogger(__name__)

APP_ENV = "JOB_RUNTIME_APP"
WATCH_EVERY_S = 30
SHIFTED_LOOK_S = 3600  # how often the sender of spring-gap ticks looks again when none is due within the day


def load_service(app_path: str) -> Service:
    """``module:attribute`` -> the application's Service (the attribute may be a factory)."""
    module_name, _, attribute = app_path.partition(":")
    target = getattr(importlib.import_module(module_name), attribute or "service")
    service: Service = target() if callable(target) and not hasattr(target, "broker") else target
    return service


def run_worker(app_path: str, queues: list[str] | None, processes: int, threads: int) -> int:
    import dramatiq.cli

    from . import safety

    service = load_service(app_path)
    safety.check(service.broker, service.settings.consumer_timeout_s)
    check_queues(service)
    os.environ[APP_ENV] = app_path
    argv = ["wrls_actors.runtime.entry:broker", "-p", str(processes), "-t", str(threads), "--skip-logging"]
    if queues:
        unknown = set(queues) - set(service.queues())
        if unknown:
            logger.error("no such queue: %s (queues: %s)", ", ".join(sorted(unknown)), ", ".join(service.queues()))
            return 2
        argv += ["-Q", *queues]
    logger.info("worker: %d processes x %d threads on %s", processes, threads, ", ".join(queues or service.queues()))
    args = dramatiq.cli.make_argument_parser().parse_args(argv)
    code: int = dramatiq.cli.main(args)
    return code


def check_queues(service: Service) -> None:
    """Refuse to start against queues declared otherwise (their type, their delivery limit) than this service would."""
    from . import rabbitmq

    if service.settings.broker_url is None:
        return
    rabbitmq.check_queues(service.broker, service.queues(), service.settings.prefix)


def _watch_once(service: Service) -> None:
    try:
        service.scheduling.record_clock(socket.gethostname())
    except Exception:
        logger.exception("clock check failed")
    try:
        results = service.scheduling.watch()
    except Exception:
        logger.exception("missed-tick watch failed")
        return
    if results:
        outcomes = Counter(r.outcome for r in results)
        logger.warning("watch: %s", ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())))


def _watch_loop(service: Service, stop: threading.Event) -> None:
    while not stop.wait(WATCH_EVERY_S):
        _watch_once(service)


def send_shifted_ticks(service: Service, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
    """Send the ticks due in ``(start, end]`` that periodiq never sends: times the spring gap moved past it."""
    sent = []
    for schedule in service.schedules.values():
        if not schedule.enabled:
            continue
        for nominal in shifted_times(schedule, start, end, service.tz):
            service.broker.get_actor(f"{TICK_PREFIX}.{schedule.name}").send_with_options(
                scheduled_at=nominal.isoformat()
            )
            logger.info(
                "schedule %s: sent the tick of %s (its wall-clock time was skipped when clocks went forward)",
                schedule.name,
                nominal.isoformat(),
            )
            sent.append((schedule.name, nominal))
    return sent


def _shifted_loop(service: Service, stop: threading.Event) -> None:
    # Like periodiq, a starting scheduler sends its current minute's ticks.
    since = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(microseconds=1)
    while True:
        now = datetime.now(UTC)
        try:
            send_shifted_ticks(service, since, now)
            since = now
            upcoming = [
                times[0]
                for s in service.schedules.values()
                if s.enabled and (times := shifted_times(s, now, now + timedelta(days=1), service.tz))
            ]
            wait_s = min([(t - now).total_seconds() for t in upcoming] + [SHIFTED_LOOK_S])
        except Exception:
            logger.exception("could not send a tick moved by the spring gap; trying again in 5 s")
            wait_s = 5
        if stop.wait(max(wait_s, 0.01)):
            return


def run_scheduler(service: Service, stop: threading.Event | None = None) -> int:
    import pendulum
    from periodiq import Scheduler

    from . import safety

    pendulum.set_local_timezone(pendulum.timezone(service.settings.timezone))
    broker = service.broker
    safety.check(broker, service.settings.consumer_timeout_s)
    check_queues(service)
    stop = stop or threading.Event()
    # Catch up before periodiq sends this minute's ticks, so an old tick is not
    # refused for overlapping the run the new one just started.
    _watch_once(service)
    threading.Thread(target=_watch_loop, args=(service, stop), name="tick-watch", daemon=True).start()
    threading.Thread(target=_shifted_loop, args=(service, stop), name="shifted-ticks", daemon=True).start()
    actors = [a for a in broker.actors.values() if "periodic" in a.options]
    if not actors:
        logger.warning("no schedule is enabled: the scheduler only watches")
        stop.wait()
        return 0
    for actor in actors:
        logger.info("schedule %-28s %s", actor.actor_name, actor.options["periodic"])
    try:
        while not stop.is_set():
            try:
                scheduler = Scheduler(actors=actors)
                scheduler.schedule()
                scheduler.loop()
            except KeyboardInterrupt:
                return 0
            except Exception:
                # periodiq itself exits here; we wait and start again: the watch
                # records the ticks that could not be sent.
                logger.exception("scheduler could not send a tick; restarting in 5 s")
                signal.alarm(0)
                if stop.wait(5):
                    break
        return 0
    finally:
        # periodiq sleeps on SIGALRM. An alarm left set goes off later, and once the interpreter is
        # finalising (signal handlers back to their defaults) it kills the process: `make run` stopped by
        # Ctrl-C then exited -14 while it stopped its embedded PostgreSQL.
        signal.alarm(0)


def run_exporter(service: Service) -> int:
    from .metrics import serve

    try:
        serve(service, service.settings.metrics_host, service.settings.metrics_port)
    except KeyboardInterrupt:
        service.scheduling.record_clock(socket.gethostname())
    return 0


def run_api(service: Service) -> int:
    from .api.server import serve

    check_queues(service)
    serve(service)
    return 0


def run_all(app_path: str, queues: list[str] | None = None) -> int:
    """Worker, scheduler, exporter and API as child processes; Ctrl-C stops all four."""
    base = [sys.executable, "-m", "wrls_actors", "--app", app_path]
    commands = {
        "worker": base + ["worker"] + (["--queues", *queues] if queues else []),
        "scheduler": base + ["scheduler"],
        "exporter": base + ["exporter"],
        "api": base + ["api"],
    }
    children = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
    stopping = False

    def stop_all(*_: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    code = 0
    while any(child.poll() is None for child in children.values()):
        for name, child in children.items():
            if child.poll() is not None and not stopping:
                logger.error("%s exited with %s: stopping the others", name, child.returncode)
                code = 1
                stop_all()
        time.sleep(0.5)
    return code


def run_embedded(service: Service, threads: int) -> int:
    """Everything in one process: in-process broker and a PostgreSQL under a local folder."""
    import pgserver
    from dramatiq import Worker

    from .api import server as api
    from .metrics import serve

    # Bound first: a port already taken stops the start before PostgreSQL is set up.
    api_socket = api.bind(service)
    folder = os.path.abspath(service.settings.embedded_dir)
    os.makedirs(folder, exist_ok=True)
    logger.warning(
        "EMBEDDED DEFAULT: %s_BROKER_URL and %s_DATABASE_URL are not set",
        service.settings.prefix,
        service.settings.prefix,
    )
    logger.warning(
        "EMBEDDED DEFAULT: in-process broker, PostgreSQL under %s/pgdata; nothing here is for production", folder
    )
    first_jobs = list(service.prepare_embedded(folder) or ()) if service.prepare_embedded is not None else []
    server = pgserver.get_server(os.path.join(folder, "pgdata"), cleanup_mode="stop")
    service.use_database(server.get_uri())
    service.upgrade_database()
    broker = service.broker
    broker.emit_after("process_boot")
    worker = Worker(broker, worker_threads=threads)
    worker.start()
    for job in first_jobs:
        logger.warning("EMBEDDED DEFAULT: starting %s now (run %s)", job, service.trigger(job))
    stop = threading.Event()
    threading.Thread(
        target=serve,
        args=(service, service.settings.metrics_host, service.settings.metrics_port, stop),
        name="exporter",
        daemon=True,
    ).start()
    threading.Thread(target=api.serve, args=(service, stop, api_socket), name="api-server", daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        run_scheduler(service, stop)
    except KeyboardInterrupt:
        service.scheduling.record_clock(socket.gethostname())
    finally:
        logger.info("stopping: worker, scheduler, exporter and API")
        stop.set()
        worker.stop()
        service.ledger.flush(10)
        server.cleanup()
    return 0
