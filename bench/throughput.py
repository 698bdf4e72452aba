#!/usr/bin/env python
"""Throughput of the runtime against bare Dramatiq, on the same RabbitMQ.

    .venv/bin/python bench/throughput.py [--messages N] [--children N]

Three measurements, in one run, in a fresh RabbitMQ vhost and a fresh
PostgreSQL database (both deleted at the end):

1. bare     plain ``RabbitmqBroker(confirm_delivery=True)``, default middleware,
            a no-op actor (``bench/bare_app.py``). N messages are enqueued
            first, then a ``dramatiq`` worker is started; timed from the
            worker's start until every message has been processed.
2. full     the same N no-op messages as the children of one run of
            ``bench-fan`` (``bench/bench_app.py``): a worker on the ``bench``
            queue only runs the fan-out step (publishing N children), it is
            stopped, then a worker on every queue is started; timed from its
            start until the run is no longer ``running`` (every child went
            through the ledger middleware and the PostgreSQL barrier, and the
            final step ran).
3. fan-out  a worker on every queue, one run with ``--children`` children:
            time to publish them, time until the run ends.
4. celery   the peer a Python team would pick instead: Celery 5 on the same
            RabbitMQ (the same vhost), ``task_acks_late`` with a prefetch
            multiplier of 1, results in the same PostgreSQL database
            (SQLAlchemy backend), a no-op task (``bench/celery_app.py``). N
            tasks are enqueued first (publisher confirms), then the worker is
            started (``--celery-pool``: by default one prefork worker of 16
            child processes, as many as the other phases' threads); timed
            from its start until every task's result row is stored. Needs
            the ``bench`` extra (``make bench`` installs it); without it this
            phase is skipped with a note.

See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import compileall
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path

import pika
import psycopg2

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = sys.executable

TARGET_RATIO = 0.75
PHASES = ("bare", "celery", "full", "fanout")


def runtime_version() -> str:
    """The commit measured, and whether the runtime's files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "wrls_actors"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        return f"commit {head or '?'}" + (" with uncommitted changes in wrls_actors/" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown commit"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class BenchError(RuntimeError):
    pass


# -- RabbitMQ ---------------------------------------------------------------------


class Management:
    """The few management API calls the benchmark needs."""

    def __init__(self, api: str, user: str, password: str) -> None:
        self.api = api.rstrip("/")
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def call(self, method: str, path: str, body=None, timeout: float = 10):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.api + path, data=data, method=method)
        request.add_header("Authorization", self.auth)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
                return response.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            return e.code, None

    def create_vhost(self, vhost: str, user: str) -> None:
        v = urllib.parse.quote(vhost, safe="")
        status, _ = self.call("PUT", f"/vhosts/{v}", {})
        if status not in (201, 204):
            raise BenchError(f"could not create vhost {vhost}: HTTP {status}")
        status, _ = self.call(
            "PUT",
            f"/permissions/{v}/{urllib.parse.quote(user, safe='')}",
            {"configure": ".*", "write": ".*", "read": ".*"},
        )
        if status not in (201, 204):
            raise BenchError(f"could not grant {user} on vhost {vhost}: HTTP {status}")

    def delete_vhost(self, vhost: str) -> None:
        self.call("DELETE", f"/vhosts/{urllib.parse.quote(vhost, safe='')}", timeout=30)

    def queue(self, vhost: str, name: str) -> dict | None:
        status, data = self.call(
            "GET", f"/queues/{urllib.parse.quote(vhost, safe='')}/{urllib.parse.quote(name, safe='')}"
        )
        return data if status == 200 else None


class Probe:
    """Real-time queue depth (ready messages) and consumer count: AMQP passive declare.

    The management API's queue figures are only refreshed every
    ``collect_statistics_interval`` (5 s by default), far too coarse to time
    a few seconds of work; a passive ``queue.declare`` answers from the queue
    process itself. It does not count unacked messages: completion is
    measured otherwise (see the phases).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.connection = None
        self.channel = None

    def _channel(self):
        if self.connection is None or self.connection.is_closed:
            self.connection = pika.BlockingConnection(pika.URLParameters(self.url))
            self.channel = None
        if self.channel is None or self.channel.is_closed:
            self.channel = self.connection.channel()
        return self.channel

    def queue(self, name: str) -> tuple[int, int] | None:
        """(ready, consumers), or None when the queue does not exist."""
        for attempt in range(3):
            try:
                result = self._channel().queue_declare(queue=name, passive=True)
                return result.method.message_count, result.method.consumer_count
            except pika.exceptions.ChannelClosedByBroker as e:
                self.channel = None
                if e.reply_code == 404:
                    return None
                raise
            except (
                pika.exceptions.AMQPConnectionError,
                pika.exceptions.StreamLostError,
                pika.exceptions.ChannelWrongStateError,
            ):
                self.connection = None
                if attempt == 2:
                    raise
        return None

    def ready(self, name: str) -> int:
        q = self.queue(name)
        return q[0] if q else 0

    def consumers(self, name: str) -> int:
        q = self.queue(name)
        return q[1] if q else 0

    def close(self) -> None:
        try:
            if self.connection is not None and self.connection.is_open:
                self.connection.close()
        except Exception:
            pass


# -- processes --------------------------------------------------------------------


class Worker:
    """A worker subprocess in its own process group, its output in a log file."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self.log_path = logdir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=str(ROOT), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check(self) -> None:
        if not self.alive():
            raise BenchError(f"worker {self.name} exited with {self.proc.returncode}; log:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM to the master (Dramatiq stops its workers gracefully), then SIGKILL to the group."""
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"worker {self.name} did not stop in {timeout:.0f}s: killing its process group")
        # Whatever is left of the group (worker processes whose master died).
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()


class Profiler:
    """Optional py-spy of a worker and its forked processes (non-blocking sampling).

    ``gil``: only the thread holding the GIL is sampled, so the profile is where the workers' Python
    CPU goes; without it every thread is, waits included (where a message's time goes)."""

    def __init__(self, worker: Worker, out: Path, *, gil: bool = False) -> None:
        exe = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
        self.out = out
        self.proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(worker.pid),
                "--subprocesses",
                "--nonblocking",
                *(["--gil"] if gil else []),
                "--format",
                "raw",
                "--rate",
                "200",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class PgSampler:
    """Optional sampling of pg_stat_activity: what the runtime's connections wait on."""

    def __init__(self, dsn: str, every: float = 0.01) -> None:
        from collections import Counter

        self.counts: Counter = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._dsn = dsn
        self._every = every
        self._thread = threading.Thread(target=self._run, name="pg-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        connection = psycopg2.connect(self._dsn, connect_timeout=10)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                while not self._stop.wait(self._every):
                    cursor.execute(
                        "SELECT state, coalesce(wait_event_type, 'CPU'), coalesce(wait_event, '-'), "
                        "       left(regexp_replace(query, '\\s+', ' ', 'g'), 60) "
                        "FROM pg_stat_activity WHERE application_name = 'wrls-actors' AND pid <> pg_backend_pid()"
                    )
                    self.samples += 1
                    for state, kind, event, query in cursor.fetchall():
                        if state == "active":
                            self.counts[(kind, event, query)] += 1
                        else:
                            self.counts[(state, "-", query if state != "idle" else "")] += 1
        finally:
            connection.close()

    def stop(self) -> str:
        self._stop.set()
        self._thread.join(10)
        lines = [f"pg_stat_activity, {self.samples} samples (average connections per sample in each state):"]
        for (kind, event, query), count in self.counts.most_common(14):
            lines.append(f"  {count / max(1, self.samples):6.2f}  {kind:<20} {event:<18} {query}")
        return "\n".join(lines)


class CpuMeter:
    """CPU seconds used by each component between start and stop, from /proc (Linux)."""

    def __init__(self, worker_pgid: int) -> None:
        self.pgid = worker_pgid
        self.tick = os.sysconf("SC_CLK_TCK")
        self.start = self._snapshot()
        self.t0 = time.perf_counter()

    def _classify(self, pid: int, comm: str, pgrp: int) -> str:
        if pgrp == self.pgid:
            return "workers"
        if pid == os.getpid():
            return "benchmark"
        if comm.startswith("postgres") or comm.startswith("postmaster"):
            return "postgresql"
        if comm.startswith(("beam", "erl_", "epmd", "inet_gethost")):
            return "rabbitmq"
        return "other"

    def _snapshot(self) -> dict:
        totals: dict[str, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    raw = f.read()
            except OSError:
                continue
            comm = raw[raw.index("(") + 1 : raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2 :].split()
            # fields[0] is state (field 3 of stat): pgrp is field 5 (index 2 here), utime/stime
            # 14/15 (11/12), starttime 22 (19).
            pgrp, utime, stime, started = int(fields[2]), int(fields[11]), int(fields[12]), int(fields[19])
            key = (int(entry), started)  # not the name: a process that execs changes it
            totals[key] = (self._classify(int(entry), comm, pgrp), utime + stime)
        with open("/proc/stat") as f:
            cpu = [int(x) for x in f.readline().split()[1:]]
        totals["_idle"] = cpu[3] + cpu[4]
        totals["_all"] = sum(cpu[:8])
        return totals

    def stop(self) -> str:
        end = self._snapshot()
        elapsed = time.perf_counter() - self.t0
        used: dict[str, float] = {}
        for key, value in end.items():
            if isinstance(key, str):
                continue
            kind, ticks = value
            before = self.start.get(key, (kind, 0))[1]
            used[kind] = used.get(kind, 0) + (ticks - before) / self.tick
        idle = (end["_idle"] - self.start["_idle"]) / self.tick
        allcpu = (end["_all"] - self.start["_all"]) / self.tick
        parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(used.items(), key=lambda kv: -kv[1]) if v >= 0.05)
        return (
            f"CPU seconds over {elapsed:.1f}s on {os.cpu_count()} CPUs: {parts}; "
            f"idle {idle:.1f} of {allcpu:.1f} ({idle / allcpu:.0%})"
            if allcpu
            else parts
        )


# -- results ----------------------------------------------------------------------


@dataclass
class Result:
    figures: dict[str, float | int | str | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failed: bool = False


CELERY_INSTALL = "make bench, or .venv/bin/pip install -e '.[bench]'"


def celery_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("celery") is not None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def pct(value: float | None) -> float | None:
    return value * 100 if value is not None else None


def rate(n: int, seconds: float | None) -> float | None:
    return n / seconds if seconds and seconds > 0 else None


def fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}{unit}" if abs(value) < 100 else f"{value:,.0f}{unit}"
    return f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"


# -- the benchmark ----------------------------------------------------------------


def compile_bytecode() -> None:
    """Our package and the benchmark's apps compiled to bytecode, as an installed package is (pip compiles it:
    Dramatiq's is, and so is the service's image). From a checkout, with PYTHONDONTWRITEBYTECODE set, every worker
    process compiled the runtime again at its start: 0.12 s here, 4 % of bare Dramatiq's whole run."""
    for directory in (ROOT / "wrls_actors", BENCH):
        if not compileall.compile_dir(directory, quiet=1):
            raise BenchError(f"could not compile {directory} to bytecode")


class Bench:
    def __init__(self, args) -> None:
        self.args = args
        tag = uuid.uuid4().hex[:10]
        self.vhost = f"bench-{tag}"
        # --database: an existing ledger (bench/ledger_scale.py's year of history), used as it is, never dropped.
        self.dbname = args.database or f"bench_{tag}"
        self.amqp_url = (
            f"amqp://{args.rabbit_user}:{args.rabbit_password}@{args.rabbit_host}:{args.rabbit_port}/{self.vhost}"
        )
        self.admin_dsn = f"{args.postgres}/postgres"
        self.db_url = f"{args.postgres}/{self.dbname}"
        # The runtime signs its messages; a key for this run only.
        self.message_key = os.environ.get("WRLS_MESSAGE_KEY") or uuid.uuid4().hex + uuid.uuid4().hex
        self.mgmt = Management(args.management, args.rabbit_user, args.rabbit_password)
        self.tmp = Path(tempfile.mkdtemp(prefix="wrls-bench-"))
        self.workers: list[Worker] = []
        self.profilers: list[Profiler] = []
        self.probe: Probe | None = None
        self.db = None
        self.created_vhost = False
        self.created_db = False
        self.results: dict[str, Result] = {}
        # (bare, full) rates of the pairs run after the first (--pairs)
        self.pairs: list[tuple[float | None, float | None]] = []
        self.bare_runs = 0
        self.variant = set(filter(None, (args.variant or "").split(",")))
        self.starts: dict[str, object] = {}
        self.skipped: list[str] = []

    # -- setup and teardown ---------------------------------------------------

    def setup(self) -> None:
        log(f"vhost {self.vhost}, database {self.dbname}, logs in {self.tmp}")
        compile_bytecode()
        self.mgmt.create_vhost(self.vhost, self.args.rabbit_user)
        self.created_vhost = True
        if not self.args.database:
            admin = psycopg2.connect(self.admin_dsn, connect_timeout=10)
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{self.dbname}"')
            admin.close()
            self.created_db = True
        self.probe = Probe(self.amqp_url)
        self.probe.queue("amq.does-not-matter")  # connect now: fail early

    def teardown(self) -> None:
        for profiler in self.profilers:
            profiler.stop()
        for worker in self.workers:
            worker.stop(timeout=20)
        if self.probe:
            self.probe.close()
        try:
            app = sys.modules.get("bench_app")  # imported only if phase 2 or 3 ran
            svc = app._service if app else None
            if svc is not None:
                svc.ledger.flush(10)
                if "broker" in svc.__dict__:
                    svc.broker.close()
                svc.engine.dispose()
        except Exception:
            pass
        if self.db is not None:
            try:
                self.db.close()
            except Exception:
                pass
        if self.created_db and not self.args.keep:
            try:
                admin = psycopg2.connect(self.admin_dsn, connect_timeout=10)
                admin.autocommit = True
                with admin.cursor() as cursor:
                    cursor.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
                admin.close()
            except Exception as e:
                log(f"could not drop database {self.dbname}: {e}")
        if self.created_vhost and not self.args.keep:
            self.mgmt.delete_vhost(self.vhost)
        if self.args.keep:
            log(f"kept: vhost {self.vhost}, database {self.dbname}, logs {self.tmp}")
        elif not self.args.keep_logs:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            log(f"worker logs kept in {self.tmp}")

    # -- helpers ----------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            WRLS_MESSAGE_KEY=self.message_key,
            WRLS_BROKER_URL=self.amqp_url,
            WRLS_DATABASE_URL=self.db_url,
            WRLS_LOG_LEVEL="WARNING",
            PYTHONPATH=os.pathsep.join(
                [str(BENCH), str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
            ),
            PYTHONUNBUFFERED="1",
            BENCH_VARIANT=",".join(sorted(self.variant)),
        )
        env.update(extra)
        return env

    def start_worker(self, name: str, cmd: list[str], env: dict[str, str]) -> Worker:
        worker = Worker(name, cmd, env, self.tmp)
        self.workers.append(worker)
        if self.args.profile:
            self.profilers.append(Profiler(worker, self.tmp / f"{name}.pyspy.txt", gil=self.args.profile == "gil"))
        return worker

    def stop_worker(self, worker: Worker, timeout: float = 60) -> None:
        for profiler in [p for p in self.profilers if p.out.name.startswith(worker.name + ".")]:
            profiler.stop()
            dest = BENCH / "profiles"
            dest.mkdir(exist_ok=True)
            shutil.copy(profiler.out, dest / profiler.out.name)
            log(f"profile of {worker.name}: {dest / profiler.out.name}")
            self.profilers.remove(profiler)
        worker.stop(timeout)
        self.workers.remove(worker)

    def runtime_worker_cmd(self, queues: list[str] | None = None) -> list[str]:
        cmd = [
            PY,
            "-m",
            "wrls_actors",
            "--app",
            "bench_app:service",
            "worker",
            "--processes",
            str(self.args.processes),
            "--threads",
            str(self.args.threads),
        ]
        return cmd + (["--queues", *queues] if queues else [])

    def wait_for(self, what: str, condition, timeout: float, every: float = 0.02, worker: Worker | None = None):
        deadline = time.perf_counter() + timeout
        while True:
            value = condition()
            if value:
                return value
            if worker is not None:
                worker.check()
            if time.perf_counter() > deadline:
                raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(every)

    def sql(self, query: str, params=None):
        with self.db.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall()

    def publish_in_threads(self, phase: str, send, n: int) -> float:
        """Call ``send()`` ``n`` times spread over ``--publish-threads`` threads; the seconds it took."""
        threads_n = self.args.publish_threads
        started = time.perf_counter()
        per_thread = [n // threads_n + (1 if i < n % threads_n else 0) for i in range(threads_n)]
        errors: list[BaseException] = []

        def publish(k: int) -> None:
            try:
                for _ in range(k):
                    send()
            except BaseException as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=publish, args=(k,)) for k in per_thread]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(60, n / 100))
        if errors or any(t.is_alive() for t in threads):
            raise BenchError(f"{phase}: enqueueing failed: {errors[:1] or 'timed out'}")
        return time.perf_counter() - started

    # -- 1. bare Dramatiq -------------------------------------------------------

    def bare(self) -> Result:
        n = self.args.messages
        result = Result()
        self.bare_runs += 1
        count_dir = self.tmp / f"bare-counts-{self.bare_runs}"
        count_dir.mkdir()
        os.environ["BENCH_BROKER_URL"] = self.amqp_url
        sys.path.insert(0, str(BENCH))
        import bare_app

        log(f"bare: enqueueing {n:,} messages ({self.args.publish_threads} threads, confirmed delivery)")
        publish_s = self.publish_in_threads("bare", bare_app.noop.send, n)
        bare_app.broker.close()
        ready = self.probe.ready(bare_app.QUEUE)
        if ready != n:
            raise BenchError(f"bare: {ready} messages ready after enqueueing {n}")
        log(f"bare: enqueued in {publish_s:.2f}s ({n / publish_s:,.0f}/s); starting the dramatiq worker")

        def done() -> int:
            total = 0
            for path in count_dir.iterdir():
                if path.suffix != ".tmp":
                    try:
                        total += int(path.read_text() or 0)
                    except (OSError, ValueError):
                        pass
            return total

        worker = self.start_worker(
            "bare",
            [
                PY,
                "-m",
                "dramatiq",
                "bare_app",
                "-p",
                str(self.args.processes),
                "-t",
                str(self.args.threads),
                "-Q",
                bare_app.QUEUE,
            ],
            self.env(BENCH_BROKER_URL=self.amqp_url, BENCH_COUNT_DIR=str(count_dir)),
        )
        t0 = worker.started
        cpu = CpuMeter(worker.pid)
        t_consumer = t_first = t_done = None
        deadline = t0 + max(120, n / 100)
        processed = 0
        while True:
            now = time.perf_counter()
            if t_first is None:
                q = self.probe.queue(bare_app.QUEUE)
                if q and q[1] > 0 and t_consumer is None:
                    t_consumer = now
                if q and q[0] < n:
                    t_first = now
            processed = done()
            if processed >= n:
                t_done = time.perf_counter()
                break
            worker.check()
            if now > deadline:
                raise BenchError(f"bare: only {processed} of {n} processed after {now - t0:.0f}s")
            time.sleep(0.01)
        result.notes.append("bare: " + cpu.stop())
        log(f"bare: {processed:,} processed in {t_done - t0:.2f}s from worker start")
        # Cross-check with the management API (its figures lag by up to its stats interval).
        verified = self.verify_empty(bare_app.QUEUE, timeout=30)
        self.stop_worker(worker)
        final = done()
        total_s = t_done - t0
        window_s = t_done - t_first if t_first else None
        result.figures.update(
            messages=n,
            enqueue_s=publish_s,
            enqueue_rate=rate(n, publish_s),
            startup_s=(t_first - t0) if t_first else None,
            total_s=total_s,
            rate=rate(n, total_s),
            window_s=window_s,
            window_rate=rate(n, window_s),
            processed=final,
            verified="yes" if verified else "NO",
        )
        if final != n:
            result.failed = True
            result.notes.append(f"bare: {final} executions for {n} messages")
        return result

    def verify_empty(self, queue: str, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            q = self.mgmt.queue(self.vhost, queue)
            if q and q.get("messages") == 0 and q.get("messages_unacknowledged") == 0 and "messages" in q:
                return True
            time.sleep(0.5)
        log(f"warning: management API did not show {queue} empty within {timeout:.0f}s")
        return False

    # -- 4. Celery ----------------------------------------------------------------

    def celery(self) -> Result:
        n = self.args.messages
        result = Result()
        # psycopg2 named: SQLAlchemy 2.1 takes a bare postgresql:// for psycopg 3, which the project does not install.
        backend = "db+postgresql+psycopg2://" + self.db_url.split("://", 1)[1]
        os.environ.update(BENCH_BROKER_URL=self.amqp_url, BENCH_RESULT_BACKEND=backend)
        os.environ.setdefault("BENCH_CELERY_PREFETCH", "1")
        if str(BENCH) not in sys.path:
            sys.path.insert(0, str(BENCH))
        import celery_app

        # The backend creates its table on first use; made here, once, so the workers do not race to
        # create it and the count below has a table from the start.
        celery_app.app.backend.ResultSession().close()
        count = psycopg2.connect(self.db_url, connect_timeout=10)
        count.autocommit = True

        def stored() -> int:
            with count.cursor() as cursor:
                # A count of the table every 20 ms would cost PostgreSQL more than the phase measures; the
                # sequence of its ids is read in constant time and counts every row inserted (a task's row is
                # inserted and marked SUCCESS in one transaction). Counted exactly once that reaches N.
                cursor.execute(f"SELECT last_value, is_called FROM {celery_app.RESULT_SEQUENCE}")
                last, called = cursor.fetchone()
                if not called or last < n:
                    return 0
                cursor.execute(f"SELECT count(*) FROM {celery_app.RESULT_TABLE} WHERE status = 'SUCCESS'")
                return cursor.fetchone()[0]

        log(f"celery: enqueueing {n:,} tasks ({self.args.publish_threads} threads, publisher confirms)")
        publish_s = self.publish_in_threads("celery", celery_app.noop.delay, n)
        celery_app.app.pool.force_close_all()
        ready = self.probe.ready(celery_app.QUEUE)
        if ready != n:
            raise BenchError(f"celery: {ready} messages ready after enqueueing {n}")
        pool = self.args.celery_pool
        log(f"celery: enqueued in {publish_s:.2f}s ({n / publish_s:,.0f}/s); starting the Celery workers ({pool} pool)")
        worker = self.start_worker(
            "celery",
            [
                PY,
                str(BENCH / "celery_app.py"),
                "--pool",
                pool,
                "--processes",
                str(self.args.processes),
                "--threads",
                str(self.args.threads),
            ],
            self.env(),
        )
        t0 = worker.started
        cpu = CpuMeter(worker.pid)
        t_first = t_done = None
        deadline = t0 + max(120, n / 50)
        done = 0
        while True:
            now = time.perf_counter()
            if t_first is None:
                q = self.probe.queue(celery_app.QUEUE)
                if q and q[0] < n:
                    t_first = now
            done = stored()
            if done >= n:
                t_done = time.perf_counter()
                break
            worker.check()
            if now > deadline:
                raise BenchError(f"celery: only {done} of {n} results stored after {now - t0:.0f}s")
            time.sleep(0.02)
        result.notes.append("celery: " + cpu.stop())
        log(f"celery: {done:,} results stored in {t_done - t0:.2f}s from worker start")
        verified = self.verify_empty(celery_app.QUEUE, timeout=30)
        self.stop_worker(worker)
        with count.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {celery_app.RESULT_TABLE} WHERE status = 'SUCCESS'")
            final = cursor.fetchone()[0]
        count.close()
        total_s = t_done - t0
        window_s = t_done - t_first if t_first else None
        result.figures.update(
            messages=n,
            pool=pool,
            prefetch_multiplier=int(os.environ["BENCH_CELERY_PREFETCH"]),
            enqueue_s=publish_s,
            enqueue_rate=rate(n, publish_s),
            startup_s=(t_first - t0) if t_first else None,
            total_s=total_s,
            rate=rate(n, total_s),
            window_s=window_s,
            window_rate=rate(n, window_s),
            stored=final,
            verified="yes" if verified else "NO",
        )
        if final != n:
            result.failed = True
            result.notes.append(f"celery: {final} results stored for {n} tasks")
        return result

    # -- runtime ----------------------------------------------------------------

    def runtime_setup(self):
        os.environ.update(
            WRLS_BROKER_URL=self.amqp_url,
            WRLS_DATABASE_URL=self.db_url,
            WRLS_LOG_LEVEL="WARNING",
            WRLS_MESSAGE_KEY=self.message_key,
            BENCH_VARIANT=",".join(sorted(self.variant)),
        )
        if str(BENCH) not in sys.path:
            sys.path.insert(0, str(BENCH))
        upgrade = subprocess.run(
            self.runtime_worker_cmd()[:5] + ["db", "upgrade"],
            env=self.env(),
            cwd=str(ROOT),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if upgrade.returncode != 0:
            raise BenchError(f"db upgrade failed: {upgrade.stdout}{upgrade.stderr}")
        import bench_app

        from wrls_actors.runtime.logs import configure

        configure("WARNING")
        self.db = psycopg2.connect(self.db_url, connect_timeout=10)
        self.db.autocommit = True
        return bench_app, bench_app.service()

    def run_started(self, run_id: str):
        """The run's start, once: the polls below give it (and its day), so that on a partitioned ledger of many
        weeks they read this week's partitions only and cost the machine what they cost on an empty one."""
        if run_id not in self.starts:
            rows = self.sql("SELECT started_at FROM jobs.runs WHERE run_id = %s", (run_id,))
            if not rows:
                return None
            self.starts[run_id] = rows[0][0]
        return self.starts[run_id]

    def run_status(self, run_id: str) -> str:
        started = self.run_started(run_id)
        if started is None:
            return "missing"
        rows = self.sql("SELECT status FROM jobs.runs WHERE run_id = %s AND started_at = %s", (run_id, started))
        return rows[0][0] if rows else "missing"

    def ledger_done(self, run_id: str, expected: int) -> int:
        """The run's messages the ledger has as succeeded: by their step row, or by their arrival alone (a
        child that succeeded at once keeps no row); 0 while any of its rows is still queued or running."""
        started = self.run_started(run_id)
        return self.sql(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM jobs.steps WHERE run_id = %(run)s AND created_on >= %(day)s "
            "                         AND status IN ('queued', 'running')) THEN 0 "
            "ELSE (SELECT count(*) FROM ("
            "  SELECT message_id FROM jobs.steps WHERE run_id = %(run)s AND created_on >= %(day)s "
            "  AND status = 'succeeded' "
            "  UNION SELECT message_id FROM jobs.barrier_arrivals WHERE run_id = %(run)s "
            "  AND run_started_at = %(started)s AND NOT failed) done) END",
            {"run": run_id, "started": started, "day": started.astimezone(UTC).date() - timedelta(days=1)},
        )[0][0]

    def check_run(self, result: Result, run_id: str, n: int) -> None:
        started = self.run_started(run_id)
        rows = self.sql(
            "SELECT r.status, r.children_failed, b.expected, b.arrived, b.failed, b.fired_at IS NOT NULL, "
            "       (SELECT count(*) FROM jobs.barrier_arrivals a WHERE a.run_id = r.run_id "
            "        AND a.run_started_at = r.started_at) "
            "FROM jobs.runs r LEFT JOIN jobs.barriers b ON b.run_id = r.run_id AND b.run_started_at = r.started_at "
            "WHERE r.run_id = %s AND r.started_at = %s",
            (run_id, started),
        )
        status, children_failed, expected, arrived, failed, fired, arrivals = rows[0]
        ok = status == "succeeded" and expected == n and arrived == n and arrivals == n and not failed and fired
        result.figures["run_status"] = status
        if not ok:
            result.failed = True
            result.notes.append(
                f"run {run_id}: status {status}, barrier expected {expected} arrived {arrived} "
                f"failed {failed} fired {fired}, {arrivals} arrival rows"
            )
        dup = self.sql(
            "SELECT count(*) FROM jobs.steps WHERE run_id = %s AND (deliveries > 1 OR attempt > 1)", (run_id,)
        )[0][0]
        if dup:
            result.notes.append(f"run {run_id}: {dup} step rows show a redelivery or retry")
        events = self.sql("SELECT kind, count(*) FROM jobs.events WHERE run_id = %s GROUP BY kind", (run_id,))
        if events:
            result.notes.append(f"run {run_id}'s events: " + ", ".join(f"{k} {c}" for k, c in events))

    # -- 2. full stack, children only ---------------------------------------------

    def full(self, bench_app, service) -> Result:
        from wrls_actors.runtime.runs import step_message_id

        n = self.args.messages
        result = Result()
        p = self.args.processes
        # 2a. A worker on the step queue only runs the fan-out step.
        log(f"full: worker on '{bench_app.QUEUE}' only, to publish {n:,} children")
        publisher = self.start_worker("full-fanout", self.runtime_worker_cmd([bench_app.QUEUE]), self.env())
        self.wait_for(
            "the fan-out worker's consumers",
            lambda: self.probe.consumers(bench_app.QUEUE) >= p,
            timeout=60,
            worker=publisher,
        )
        t_trigger = time.perf_counter()
        run_id = service.trigger(bench_app.JOB, {"n": n})
        prepare_id = step_message_id(run_id, 0)
        self.wait_for(
            "the children to be published",
            lambda: self.probe.ready(bench_app.CHILD_QUEUE) >= n,
            timeout=max(120, n / 50),
            every=0.02,
            worker=publisher,
        )
        t_published = time.perf_counter()
        prep = self.wait_for(
            "the fan-out step to be recorded as succeeded",
            lambda: (
                self.sql(
                    "SELECT status, duration_ms FROM jobs.steps WHERE message_id = %s AND status = 'succeeded'",
                    (prepare_id,),
                )
                or [None]
            )[0],
            timeout=60,
            every=0.05,
            worker=publisher,
        )
        self.stop_worker(publisher)
        left = self.probe.ready(bench_app.QUEUE)
        ready = self.probe.ready(bench_app.CHILD_QUEUE)
        if left or ready != n:
            raise BenchError(
                f"full: after the fan-out, {left} step messages and {ready} children are queued (want 0, {n})"
            )
        publish_s = t_published - t_trigger
        log(
            f"full: {n:,} children published in {publish_s:.2f}s (fan-out step took {prep[1] / 1000:.2f}s); "
            f"starting a worker on every queue"
        )
        # 2b. The measured part: a fresh worker on every queue processes the children.
        worker = self.start_worker("full", self.runtime_worker_cmd(), self.env())
        sampler = PgSampler(self.db_url) if self.args.profile else None
        cpu = CpuMeter(worker.pid)
        t0 = worker.started
        t_first = t_end = None
        deadline = t0 + max(180, n / 20)
        status = "running"
        polls = 0
        no_barrier = "no-barrier" in self.variant
        while True:
            now = time.perf_counter()
            if t_first is None and self.probe.ready(bench_app.CHILD_QUEUE) < n:
                t_first = now
            if no_barrier and polls % 5 == 0:
                # Experiment without fan-in: the run never ends; done when the ledger has every child.
                if self.ledger_done(run_id, n) >= n:
                    status = "children recorded (no barrier)"
                    t_end = time.perf_counter()
                    break
            elif not no_barrier and polls % 2 == 0:
                status = self.run_status(run_id)
                if status != "running":
                    t_end = time.perf_counter()
                    break
            polls += 1
            worker.check()
            if now > deadline:
                raise BenchError(
                    f"full: run still {status} after {now - t0:.0f}s "
                    f"({self.probe.ready(bench_app.CHILD_QUEUE)} children queued)"
                )
            time.sleep(0.01)
        result.notes.append("full (children): " + cpu.stop())
        log(f"full: run {status} {t_end - t0:.2f}s after the worker started; waiting for the ledger")
        if sampler:
            result.notes.append("full (children): " + sampler.stop())
        want = n + 1 if no_barrier else n + 2
        done = self.wait_for(
            "the ledger to record every step",
            lambda: (lambda c: c if c >= want else 0)(self.ledger_done(run_id, want)),
            timeout=max(60, n / 200),
            every=0.1,
            worker=worker,
        )
        t_ledger = time.perf_counter()
        self.stop_worker(worker)
        if not no_barrier:
            self.check_run(result, run_id, n)
        total_s = t_end - t0
        window_s = t_end - t_first if t_first else None
        result.figures.update(
            messages=n,
            run_id=run_id,
            publish_s=publish_s,
            publish_rate=rate(n, publish_s),
            fanout_step_s=prep[1] / 1000,
            startup_s=(t_first - t0) if t_first else None,
            total_s=total_s,
            rate=rate(n, total_s),
            window_s=window_s,
            window_rate=rate(n, window_s),
            ledger_s=t_ledger - t0,
            ledger_rows=done,
        )
        return result

    # -- 3. fan-out and fan-in ----------------------------------------------------

    def fanout(self, bench_app, service) -> Result:
        from wrls_actors.runtime.runs import step_message_id

        n = self.args.children
        p = self.args.processes
        result = Result()
        log(f"fan-out: worker on every queue; one run with {n:,} children")
        worker = self.start_worker("fanout", self.runtime_worker_cmd(), self.env())
        for queue in (bench_app.QUEUE, bench_app.CHILD_QUEUE):
            self.wait_for(
                f"consumers on {queue}", lambda q=queue: self.probe.consumers(q) >= p, timeout=60, worker=worker
            )
        sampler = PgSampler(self.db_url) if self.args.profile else None
        cpu = CpuMeter(worker.pid)
        t0 = time.perf_counter()
        run_id = service.trigger(bench_app.JOB, {"n": n})
        deadline = t0 + max(300, n / 20)
        status = "running"
        peak = 0
        polls = 0
        while True:
            now = time.perf_counter()
            if polls % 5 == 0:
                peak = max(peak, self.probe.ready(bench_app.CHILD_QUEUE))
            status = self.run_status(run_id)
            if status != "running":
                t_end = time.perf_counter()
                break
            polls += 1
            worker.check()
            if now > deadline:
                raise BenchError(f"fan-out: run still {status} after {now - t0:.0f}s")
            time.sleep(0.02)
        result.notes.append("fan-out: " + cpu.stop())
        log(f"fan-out: run {status} {t_end - t0:.2f}s after the trigger; waiting for the ledger")
        if sampler:
            result.notes.append("fan-out: " + sampler.stop())
        self.wait_for(
            "the ledger to record every step",
            lambda: (lambda c: c if c >= n + 2 else 0)(self.ledger_done(run_id, n + 2)),
            timeout=max(60, n / 200),
            every=0.2,
            worker=worker,
        )
        t_ledger = time.perf_counter()
        self.stop_worker(worker)
        self.check_run(result, run_id, n)
        prepare_id = step_message_id(run_id, 0)
        ((duration_ms, last_enqueued_s, first_child_s, fired_s, run_s),) = self.sql(
            "SELECT p.duration_ms, "
            # Children are not recorded queued: the fan-out step's end is when its last child was published.
            "  extract(epoch FROM p.finished_at - r.started_at), "
            "  (SELECT extract(epoch FROM min(a.started_at) - r.started_at) FROM jobs.barrier_arrivals a "
            "     WHERE a.run_id = r.run_id AND a.run_started_at = r.started_at), "
            "  extract(epoch FROM b.fired_at - r.started_at), extract(epoch FROM r.finished_at - r.started_at) "
            "FROM jobs.runs r JOIN jobs.steps p ON p.message_id = %s "
            "LEFT JOIN jobs.barriers b ON b.run_id = r.run_id WHERE r.run_id = %s",
            (prepare_id, run_id),
        )
        total_s = t_end - t0
        result.figures.update(
            children=n,
            run_id=run_id,
            fanout_step_s=(duration_ms or 0) / 1000,
            last_enqueued_s=float(last_enqueued_s) if last_enqueued_s is not None else None,
            publish_rate=rate(n, float(last_enqueued_s)) if last_enqueued_s else None,
            first_child_s=float(first_child_s) if first_child_s is not None else None,
            fired_s=float(fired_s) if fired_s is not None else None,
            run_s=float(run_s) if run_s is not None else None,
            total_s=total_s,
            rate=rate(n, total_s),
            peak_queued=peak,
            ledger_s=t_ledger - t0,
        )
        return result

    # -- the whole thing ----------------------------------------------------------

    def run(self) -> int:
        phases = set(self.args.only.split(",")) if self.args.only else set(PHASES)
        unknown = phases - set(PHASES)
        if unknown:
            raise BenchError(f"--only: no phase {', '.join(sorted(unknown))} (phases: {', '.join(PHASES)})")
        if "no-barrier" in self.variant:
            phases.discard("fanout")  # a run without fan-in never ends
        if "celery" in phases and not celery_installed():
            if self.args.only:
                raise BenchError(f"--only celery: Celery is not installed; install it with {CELERY_INSTALL}")
            phases.discard("celery")
            self.skipped.append(f"celery: skipped, Celery is not installed; install it with {CELERY_INSTALL}")
            log(self.skipped[-1])
        self.setup()
        if "bare" in phases:
            self.results["bare"] = self.bare()
        if "celery" in phases:
            self.results["celery"] = self.celery()
        if phases & {"full", "fanout"}:
            bench_app, service = self.runtime_setup()
            if "full" in phases:
                self.results["full"] = self.full(bench_app, service)
                if "bare" in phases:
                    # Bare Dramatiq's rate moves by a fifth from run to run: more pairs, alternately.
                    for k in range(2, self.args.pairs + 1):
                        log(f"pair {k} of {self.args.pairs}: bare, then full")
                        bare_rate = self.bare().figures["rate"]
                        self.pairs.append((bare_rate, self.full(bench_app, service).figures["rate"]))
            if "fanout" in phases:
                self.results["fanout"] = self.fanout(bench_app, service)
        return self.report()

    def celery_ratios(self) -> dict[str, float]:
        """Ours over the peer, and the peer over bare Dramatiq, each from worker start, where both ran."""
        rates = {k: r.figures.get("rate") for k, r in self.results.items()}
        pairs = {"full_over_celery": ("full", "celery"), "celery_over_bare": ("celery", "bare")}
        out = {}
        for name, (a, b) in pairs.items():
            value = ratio(rates.get(a), rates.get(b))
            if value is not None:
                out[name] = value
        return out

    def report(self) -> int:
        a = self.args
        print()
        print(
            f"== Throughput: {a.processes} worker processes x {a.threads} threads, RabbitMQ vhost {self.vhost}, "
            f"{os.cpu_count()} CPUs =="
        )
        print(f"runtime at {runtime_version()}")
        if self.variant:
            print(
                f"!! EXPERIMENT: runtime patched by bench/variants.py: {', '.join(sorted(self.variant))} "
                f"(not the runtime's own figures)"
            )
        rows: list[tuple[str, str]] = []
        bare = self.results.get("bare")
        full = self.results.get("full")
        fan = self.results.get("fanout")
        cel = self.results.get("celery")
        if bare:
            f = bare.figures
            rows += [
                ("1. bare Dramatiq, no-op actor", f"{f['messages']:,} messages"),
                (
                    f"   enqueue (confirmed, {a.publish_threads} threads)",
                    f"{fmt(f['enqueue_s'], ' s')}  ({fmt(f['enqueue_rate'], ' msg/s')})",
                ),
                ("   worker start -> first message taken", fmt(f["startup_s"], " s")),
                ("   worker start -> all processed", f"{fmt(f['total_s'], ' s')}  => {fmt(f['rate'], ' msg/s')}"),
                (
                    "   first taken -> all processed",
                    f"{fmt(f['window_s'], ' s')}  => {fmt(f['window_rate'], ' msg/s')}",
                ),
                ("   executions / queue empty (mgmt API)", f"{f['processed']:,} / {f['verified']}"),
            ]
        if full:
            f = full.figures
            rows += [
                ("2. full stack, fan-out children", f"{f['messages']:,} children, status {f.get('run_status')}"),
                (
                    "   publish children (trigger -> all queued)",
                    f"{fmt(f['publish_s'], ' s')}  ({fmt(f['publish_rate'], ' msg/s')}); fan-out step {fmt(f['fanout_step_s'], ' s')}",
                ),
                ("   worker start -> first child taken", fmt(f["startup_s"], " s")),
                ("   worker start -> run ended", f"{fmt(f['total_s'], ' s')}  => {fmt(f['rate'], ' msg/s')}"),
                ("   first taken -> run ended", f"{fmt(f['window_s'], ' s')}  => {fmt(f['window_rate'], ' msg/s')}"),
                ("   worker start -> ledger has every step", fmt(f["ledger_s"], " s")),
            ]
        if bare and full:
            ratio = (
                full.figures["rate"] / bare.figures["rate"] if bare.figures["rate"] and full.figures["rate"] else None
            )
            wratio = (
                full.figures["window_rate"] / bare.figures["window_rate"]
                if bare.figures["window_rate"] and full.figures["window_rate"]
                else None
            )
            verdict = "-" if ratio is None else ("YES" if ratio >= TARGET_RATIO else "NO")
            rows += [
                (
                    "   full / bare (from worker start)",
                    f"{fmt(ratio * 100 if ratio else None, ' %')}  target >= {TARGET_RATIO:.0%}: {verdict}",
                ),
                ("   full / bare (first taken -> end)", fmt(wratio * 100 if wratio else None, " %")),
            ]
            if self.pairs:
                pairs = [(bare.figures["rate"], full.figures["rate"]), *self.pairs]
                ratios = [f / b for b, f in pairs if b and f]
                each = ", ".join(f"{r * 100:.1f}" for r in ratios)
                rows.append(
                    (
                        f"   full / bare, {len(ratios)} pairs (from worker start)",
                        f"median {statistics.median(ratios) * 100:.1f} %  (each: {each})",
                    )
                )
                rates = ", ".join(f"{fmt(f)}/{fmt(b)}" for b, f in self.pairs)
                rows.append(("   the pairs after the first: full / bare msg/s", rates))
        if fan:
            f = fan.figures
            rows += [
                ("3. fan-out / fan-in", f"{f['children']:,} children, status {f.get('run_status')}"),
                ("   fan-out step (builds barrier, publishes)", fmt(f["fanout_step_s"], " s")),
                (
                    "   trigger -> last child queued (fan-out step ended)",
                    f"{fmt(f['last_enqueued_s'], ' s')}  ({fmt(f['publish_rate'], ' msg/s')})",
                ),
                ("   trigger -> first child started", fmt(f["first_child_s"], " s")),
                ("   trigger -> barrier fired", fmt(f["fired_s"], " s")),
                ("   trigger -> run ended", f"{fmt(f['total_s'], ' s')}  => {fmt(f['rate'], ' children/s')}"),
                ("   peak children queued", fmt(f["peak_queued"])),
                ("   trigger -> ledger has every step", fmt(f["ledger_s"], " s")),
            ]
        if cel:
            f = cel.figures
            rows += [
                (
                    "4. Celery, no-op task (acks_late, PostgreSQL results)",
                    f"{f['messages']:,} tasks, {f['pool']} pool, prefetch multiplier {f['prefetch_multiplier']}",
                ),
                (
                    f"   enqueue (confirmed, {a.publish_threads} threads)",
                    f"{fmt(f['enqueue_s'], ' s')}  ({fmt(f['enqueue_rate'], ' msg/s')})",
                ),
                ("   worker start -> first task taken", fmt(f["startup_s"], " s")),
                ("   worker start -> all results stored", f"{fmt(f['total_s'], ' s')}  => {fmt(f['rate'], ' msg/s')}"),
                (
                    "   first taken -> all results stored",
                    f"{fmt(f['window_s'], ' s')}  => {fmt(f['window_rate'], ' msg/s')}",
                ),
                ("   results stored / queue empty (mgmt API)", f"{f['stored']:,} / {f['verified']}"),
            ]
            ratios = self.celery_ratios()
            if "full_over_celery" in ratios:
                rows.append(
                    (
                        "   full / celery (ours / peer, from worker start)",
                        fmt(pct(ratios["full_over_celery"]), " %"),
                    )
                )
            if "celery_over_bare" in ratios:
                rows.append(("   celery / bare (from worker start)", fmt(pct(ratios["celery_over_bare"]), " %")))
        width = max((len(r[0]) for r in rows), default=10)
        for label, value in rows:
            print(f"{label:<{width}}  {value}")
        notes = self.skipped + [n for r in self.results.values() for n in r.notes]
        if notes:
            print("\nnotes:")
            for note in notes:
                print(f"  - {note}")
        if self.args.json:
            figures: dict[str, object] = {k: v.figures for k, v in self.results.items()}
            if self.celery_ratios():
                figures["ratios"] = self.celery_ratios()
            print("\n" + json.dumps(figures, default=str))
        return 1 if any(r.failed for r in self.results.values()) else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=20_000, help="no-op messages for bare vs full (default 20,000)")
    p.add_argument("--children", type=int, default=50_000, help="children of the fan-out run (default 50,000)")
    p.add_argument("--processes", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--threads", type=int, default=8, help="threads per worker process (default 8)")
    p.add_argument("--publish-threads", type=int, default=8, help="threads enqueueing the bare messages (default 8)")
    p.add_argument("--only", help=f"comma-separated phases to run: {','.join(PHASES)} (default all)")
    p.add_argument(
        "--pairs",
        type=int,
        default=1,
        help="run bare and full this many times, alternately, and print each ratio and their median "
        "(bare Dramatiq's rate moves by a fifth from run to run)",
    )
    p.add_argument(
        "--celery-pool",
        choices=("prefork", "threads"),
        default="prefork",
        help="Celery's concurrency: prefork = one worker of --processes x --threads child processes (default, "
        "Celery's own); threads = --processes workers of --threads threads, whose result backend connects to "
        "PostgreSQL anew for every task (see bench/celery_app.py)",
    )
    p.add_argument("--rabbit-host", default="127.0.0.1")
    p.add_argument("--rabbit-port", type=int, default=5672)
    p.add_argument("--rabbit-user", default="guest")
    p.add_argument("--rabbit-password", default="guest")
    p.add_argument("--management", default="http://127.0.0.1:15672/api", help="RabbitMQ management API")
    p.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432",
        help="PostgreSQL server URL without database (default %(default)s)",
    )
    p.add_argument(
        "--profile",
        nargs="?",
        const="all",
        choices=("all", "gil"),
        help="py-spy every worker (non-blocking sampling, raw output to bench/profiles/); perturbs figures. "
        "--profile=gil samples only the thread holding the GIL: where the workers' CPU goes",
    )
    p.add_argument(
        "--variant",
        help="experiments only: patch the runtime in the workers (bench/variants.py): no-barrier, no-start-check, "
        "no-signatures (comma-separated)",
    )
    p.add_argument("--keep", action="store_true", help="keep the vhost, database and logs")
    p.add_argument(
        "--database",
        help="run the runtime phases on this existing database (migrated, never dropped) instead of a new one",
    )
    p.add_argument("--keep-logs", action="store_true", help="keep the worker logs")
    p.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = p.parse_args()

    if args.profile and not (shutil.which("py-spy") or (Path(PY).parent / "py-spy").exists()):
        p.error("--profile needs py-spy: .venv/bin/pip install py-spy")
    bench = Bench(args)

    def interrupted(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, interrupted)
    code = 1
    try:
        code = bench.run()
    except BenchError as e:
        log(f"FAILED: {e}")
        for worker in bench.workers:
            log(f"log of worker {worker.name} ({worker.log_path}):\n{worker.tail()}")
        if bench.results:
            bench.report()
        bench.args.keep_logs = True
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        code = 130
    finally:
        bench.teardown()
    return code


if __name__ == "__main__":
    sys.exit(main())
