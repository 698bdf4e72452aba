"""The metrics exporter: ``/metrics`` from the ledger and RabbitMQ, and ``/healthz``.

Everything is read at scrape time from shared state (the ``jobs`` tables and
RabbitMQ), never from one process's memory, so the numbers are right however
many worker processes and machines there are, and survive restarts.

Counters and histograms of every known job, actor and schedule are served
from the first scrape, at 0 until the ledger has a value: a series that
appears with its first observation would lose that observation to ``rate()``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import threading
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import text

from .cron import fire_times
from .ledger_writer import DURATION_BUCKETS_S
from .runs import RUN_DURATION_BUCKETS_S
from .scheduling import (
    CAUGHT_UP,
    DOUBLE_START,
    LATE,
    MISSED,
    NO_STEPS,
    PAUSED,
    SKIPPED_OVERLAP,
    STARTED,
    SUPPRESSED,
)
from .service import CONTROL_QUEUE, SCHEDULE_QUEUE, START_ACTOR, TICK_PREFIX, Service
from .settings import split_urls

logger = logging.getLogger(__name__)

COUNTERS = {
    # ledger counter name: (help, label names)
    "runs_started_total": ("Runs started, by job and trigger.", ("job", "trigger")),
    "runs_total": (
        "Runs ended, by job and outcome (succeeded, failed, completed-with-failures, cancelled).",
        ("job", "outcome"),
    ),
    "steps_total": (
        "Step messages ended, by actor, queue and outcome (succeeded, retried, failed, timed-out, "
        "skipped, dead-lettered).",
        ("actor", "queue", "outcome"),
    ),
    "steps_timed_out_total": ("Step attempts stopped by their time limit.", ("actor", "queue")),
    "steps_stalled_total": ("Steps found stalled (no heartbeat, or hung past their time limit).", ("actor", "queue")),
    "steps_redelivered_total": ("Step messages redelivered after a delivery that never finished.", ("actor", "queue")),
    "ticks_total": (
        "Schedule ticks by outcome (started, late, caught-up, skipped-overlap, missed, no-steps; "
        "suppressed: another copy of a claimed tick, normal with two schedulers; double-start: a "
        "second start of a tick whose claim was lost, refused; paused: its schedule was paused).",
        ("schedule", "outcome"),
    ),
    "messages_rejected_total": (
        "Messages refused before any work (undecodable, too large, unsigned, stray), dead-lettered.",
        (),
    ),
}
HISTOGRAMS = {
    "run_duration_seconds": ("Run duration from start to end.", ("job",)),
    "step_duration_seconds": ("Step attempt duration.", ("actor", "queue")),
}
BUCKETS_S = {"run_duration_seconds": RUN_DURATION_BUCKETS_S, "step_duration_seconds": DURATION_BUCKETS_S}
# The values each label of a counter can take besides the known job, actor or schedule.
STEP_OUTCOMES = ("succeeded", "retried", "failed", "timed-out", "skipped", "dead-lettered")
RUN_OUTCOMES = ("succeeded", "completed-with-failures", "failed", "cancelled")
TRIGGERS = ("schedule", "cli", "message", "http")
TICK_OUTCOMES = (STARTED, LATE, CAUGHT_UP, SUPPRESSED, SKIPPED_OVERLAP, MISSED, NO_STEPS, DOUBLE_START, PAUSED)
# A scheduler checks its clock every 30 s; an offset older than this is a scheduler gone.
CLOCK_FRESH_S = 300
GAUGES = {
    "job_last_success_timestamp_seconds": ("When each job last ended successfully (Unix time).", ("job",)),
    "schedule_lag_seconds": (
        "Delay between a schedule's nominal tick time and its handling, last tick.",
        ("schedule",),
    ),
}

CLOCK_OFFSETS = text(
    """
    SELECT o.labels->>'host' AS host, o.value FROM jobs.counters o
    JOIN jobs.counters c ON c.name = 'scheduler_clock_checked_at' AND c.labels = o.labels
    WHERE o.name = 'scheduler_clock_offset_seconds' AND c.value > extract(epoch FROM now()) - :fresh
    """
)

STALLED_NOW = text(
    """
    SELECT actor, queue, count(*) AS n FROM jobs.steps
    WHERE status = 'stalled'
       OR (status = 'running' AND (coalesce(heartbeat_at, started_at) < now() - make_interval(secs => :stall_after)
           OR (time_limit_ms IS NOT NULL AND started_at + make_interval(secs => time_limit_ms / 1000.0 + :grace) < now())))
    GROUP BY actor, queue
    """
)

# Progress of the fan-outs of runs still going (e.g. licences imported of all
# queued), summed per job: run ids would make a series per run.
RUN_ITEMS = text(
    """
    SELECT r.job, sum(b.expected) AS total, sum(b.arrived) AS ended, sum(b.failed) AS failed
    FROM jobs.runs r JOIN jobs.barriers b ON b.run_id = r.run_id
    WHERE r.status = 'running'
    GROUP BY r.job
    """
)


def management_url(broker_url: str | None, explicit: str | None) -> str | None:
    """The explicit URL, else the first broker node's host on port 15672 (in a cluster, set it: a balancer's)."""
    if explicit:
        return explicit.rstrip("/")
    urls = split_urls(broker_url)
    if not urls:
        return None
    parts = urlsplit(urls[0])
    user = parts.username or "guest"
    password = parts.password or "guest"
    return f"http://{quote(user)}:{quote(password)}@{parts.hostname or '127.0.0.1'}:15672"


def vhost_of(broker_url: str | None) -> str:
    # Every node's URL names the same virtual host (settings refuse others).
    path = urlsplit(next(iter(split_urls(broker_url)), "")).path
    return unquote(path[1:]) if len(path) > 1 else "/"


@dataclasses.dataclass
class QueueDepth:
    """One queue of the service, with its delay (.DQ) and dead-letter (.XQ) queues; None where one is missing."""

    ready: int | None = None
    unacked: int | None = None
    consumers: int | None = None
    delayed: int | None = None
    dead_lettered: int | None = None


def queue_depths(listed: Iterable[Mapping[str, Any]], known: Iterable[str]) -> dict[str, QueueDepth]:
    """RabbitMQ's queues (``read_queues``) as the depths of the service's own, by queue name."""
    wanted = set(known)
    depths: dict[str, QueueDepth] = {}
    for queue in listed:
        name = queue["name"]
        base = name[:-3] if name.endswith((".DQ", ".XQ")) else name
        if base not in wanted:
            continue
        depth = depths.setdefault(base, QueueDepth())
        if name.endswith(".XQ"):
            depth.dead_lettered = queue.get("messages", 0)
        elif name.endswith(".DQ"):
            depth.delayed = queue.get("messages", 0)
        else:
            depth.ready = queue.get("messages_ready", 0)
            depth.unacked = queue.get("messages_unacknowledged", 0)
            depth.consumers = queue.get("consumers", 0)
    return dict(sorted(depths.items()))


def read_queues(url: str, vhost: str, timeout_s: float = 5) -> list[dict[str, Any]]:
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}{parts.path}"
    request = urllib.request.Request(
        f"{base}/api/queues/{quote(vhost, safe='')}?columns=name,messages_ready,"
        "messages_unacknowledged,messages,consumers"
    )
    token = base64.b64encode(f"{unquote(parts.username or 'guest')}:{unquote(parts.password or 'guest')}".encode())
    request.add_header("Authorization", f"Basic {token.decode()}")
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        queues: list[dict[str, Any]] = json.load(response)
        return queues


class LedgerCollector:
    """A Prometheus collector reading the ledger and RabbitMQ at every scrape."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.namespace = service.settings.prefix.lower()
        self._periods = self._expected_periods()
        self._known = self._known_labels()

    def _name(self, name: str) -> str:
        return f"{self.namespace}_{name}"

    def _expected_periods(self) -> dict[str, float]:
        """The longest gap between two ticks of each schedule over the coming fortnight."""
        periods = {}
        now = datetime.now(UTC)
        for schedule in self.service.schedules.values():
            if not schedule.enabled:
                continue
            if schedule.every is not None:
                periods[schedule.name] = schedule.every.total_seconds()
                continue
            times = fire_times(schedule, now, now + timedelta(days=14), self.service.tz)
            gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
            if gaps:
                periods[schedule.name] = max(gaps)
        return periods

    def _known_labels(self) -> dict[str, list[tuple[str, ...]]]:
        """The label values of every series known before anything runs, by ledger counter name."""
        service = self.service
        jobs: list[tuple[str, ...]] = [(name,) for name in service.jobs]
        actors: list[tuple[str, ...]] = [(START_ACTOR, CONTROL_QUEUE)]
        actors += [(f"{TICK_PREFIX}.{name}", SCHEDULE_QUEUE) for name in service.schedules]
        for job in service.jobs.values():
            for step in job.steps:
                actors.append((job.actor_name(step), job.queue_of(step)))
                if step.fan_out is not None:
                    actors.append((job.actor_name(step.fan_out), job.queue_of(step.fan_out)))
        schedules: list[tuple[str, ...]] = [(name,) for name in service.schedules]
        return {
            "runs_started_total": [j + (t,) for j in jobs for t in TRIGGERS],
            "runs_total": [j + (o,) for j in jobs for o in RUN_OUTCOMES],
            "steps_total": [a + (o,) for a in actors for o in STEP_OUTCOMES],
            "steps_timed_out_total": actors,
            "steps_stalled_total": actors,
            "steps_redelivered_total": actors,
            "ticks_total": [s + (o,) for s in schedules for o in TICK_OUTCOMES],
            "messages_rejected_total": [()],
            "run_duration_seconds": jobs,
            "step_duration_seconds": actors,
        }

    def collect(self) -> Iterator[Metric]:
        s = self.service.settings
        up = GaugeMetricFamily(self._name("ledger_up"), "1 when the ledger database answered this scrape.")
        try:
            with self.service.engine.connect() as connection:
                counters = connection.execute(text("SELECT name, labels, value FROM jobs.counters")).all()
                stalled = connection.execute(
                    STALLED_NOW, {"stall_after": s.stall_after_s, "grace": s.stall_grace_s}
                ).all()
                running = connection.execute(
                    text(
                        "SELECT job, count(*) AS n, extract(epoch FROM now() - min(started_at)) AS oldest "
                        "FROM jobs.runs WHERE status = 'running' GROUP BY job"
                    )
                ).all()
                items = connection.execute(RUN_ITEMS).all()
                clocks = connection.execute(CLOCK_OFFSETS, {"fresh": CLOCK_FRESH_S}).all()
            up.add_metric([], 1)
        except Exception:
            logger.exception("ledger not readable for metrics")
            up.add_metric([], 0)
            counters, stalled, running, items, clocks = [], [], [], [], []
        yield up
        if up.samples[0].value:
            yield from self._from_counters(counters)
        else:
            # Zeros would read as counter resets: no ledger, no series.
            yield from self._from_counters([], known={})
        gauge = GaugeMetricFamily(
            self._name("scheduler_clock_offset_seconds"),
            "How far each scheduler host's clock is ahead of the database's (negative: behind), measured every 30 s.",
            labels=["host"],
        )
        for row in clocks:
            gauge.add_metric([row.host], row.value)
        yield gauge
        gauge = GaugeMetricFamily(
            self._name("steps_stalled"),
            "Steps stalled now (no heartbeat, or past their time limit and still running).",
            labels=["actor", "queue"],
        )
        for row in stalled:
            gauge.add_metric([row.actor, row.queue], row.n)
        yield gauge
        gauge = GaugeMetricFamily(self._name("runs_running"), "Runs in progress now.", labels=["job"])
        oldest = GaugeMetricFamily(
            self._name("run_oldest_running_seconds"),
            "Age of the oldest run still going, per job: a run that never ends makes "
            "every later tick skip (overlap policy).",
            labels=["job"],
        )
        for row in running:
            gauge.add_metric([row.job], row.n)
            oldest.add_metric([row.job], float(row.oldest))
        yield gauge
        yield oldest
        gauge = GaugeMetricFamily(
            self._name("run_items"),
            "Fan-out items of the runs in progress, per job (a chunked fan-out's items, "
            "not its messages): total queued, ended (succeeded or failed for good) and failed; "
            "ended/total is the progress.",
            labels=["job", "state"],
        )
        for row in items:
            for state in ("total", "ended", "failed"):
                gauge.add_metric([row.job, state], float(getattr(row, state)))
        yield gauge
        gauge = GaugeMetricFamily(
            self._name("schedule_expected_period_seconds"),
            "Longest time between two ticks of a schedule (for overdue alerts).",
            labels=["schedule", "job"],
        )
        for name, period in self._periods.items():
            gauge.add_metric([name, self.service.schedules[name].job], period)
        yield gauge
        yield from self._queues()

    def _from_counters(
        self, rows: Iterable[Any], known: dict[str, list[tuple[str, ...]]] | None = None
    ) -> Iterator[Metric]:
        known = self._known if known is None else known
        by_name: dict[str, list[tuple[dict[str, Any], float]]] = defaultdict(list)
        for row in rows:
            by_name[row.name].append((row.labels, row.value))
        for name, (help_, labels) in COUNTERS.items():
            counter = CounterMetricFamily(self._name(name[: -len("_total")]), help_, labels=list(labels))
            values_of = dict.fromkeys(known.get(name, []), 0.0)
            for values, value in by_name.get(name, []):
                values_of[tuple(str(values.get(label, "")) for label in labels)] = value
            for key, value in values_of.items():
                counter.add_metric(list(key), value)
            yield counter
        for name, (help_, labels) in GAUGES.items():
            gauge = GaugeMetricFamily(self._name(name), help_, labels=list(labels))
            for values, value in by_name.get(name, []):
                gauge.add_metric([str(values.get(label, "")) for label in labels], value)
            yield gauge
        for name, (help_, labels) in HISTOGRAMS.items():
            histogram = HistogramMetricFamily(self._name(name), help_, labels=list(labels))
            series: dict[tuple[str, ...], dict[str, Any]] = defaultdict(
                lambda: {"buckets": {}, "sum": 0.0, "count": 0.0}
            )
            for key in known.get(name, []):
                series[key]["buckets"] = {float(bound): 0.0 for bound in BUCKETS_S[name]}
            for values, value in by_name.get(f"{name}_bucket", []):
                key = tuple(str(values.get(label, "")) for label in labels)
                series[key]["buckets"][float(values["le"])] = value
            for values, value in by_name.get(f"{name}_sum", []):
                series[tuple(str(values.get(label, "")) for label in labels)]["sum"] = value
            for values, value in by_name.get(f"{name}_count", []):
                series[tuple(str(values.get(label, "")) for label in labels)]["count"] = value
            for key, data in series.items():
                bounds = sorted(data["buckets"])
                buckets = [(repr(b) if b != int(b) else f"{b:.1f}", data["buckets"][b]) for b in bounds]
                buckets.append(("+Inf", data["count"]))
                histogram.add_metric(list(key), buckets, data["sum"])
            yield histogram

    def _queues(self) -> Iterator[Metric]:
        s = self.service.settings
        names = {
            "ready": "Messages ready in each queue.",
            "unacked": "Messages delivered to workers and not yet acknowledged, per queue.",
            "delayed": "Messages waiting for a retry or a delay, per queue.",
            "dead_lettered": "Messages in each queue's dead-letter queue (.XQ).",
            "consumers": "Consumers (worker threads' channels) on each queue.",
        }
        families = {k: GaugeMetricFamily(self._name(f"queue_{k}"), v, labels=["queue"]) for k, v in names.items()}
        up = GaugeMetricFamily(self._name("broker_up"), "1 when RabbitMQ's management API answered this scrape.")
        url = management_url(s.broker_url, s.management_url)
        if url is None:
            yield from families.values()
            return
        try:
            queues = read_queues(url, vhost_of(s.broker_url))
            up.add_metric([], 1)
        except Exception as e:
            logger.warning("RabbitMQ management API not readable: %s", e)
            up.add_metric([], 0)
            queues = []
        for base, depth in queue_depths(queues, self.service.queues()).items():
            for family, value in dataclasses.asdict(depth).items():
                if value is not None:  # a queue RabbitMQ has not declared (no .DQ yet) has no series
                    families[family].add_metric([base], value)
        yield up
        yield from families.values()


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - one line per scrape would flood the log
        pass


def make_app(service: Service) -> WSGIApplication:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerCollector(service))

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            body = generate_latest(registry)
            start_response("200 OK", [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])
            return [body]
        if path == "/healthz":
            status, report = health(service)
            start_response(status, [("Content-Type", "application/json")])
            return [json.dumps(report).encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics or /healthz\n"]

    return app


def health(service: Service) -> tuple[str, dict[str, str]]:
    report: dict[str, str] = {}
    try:
        with service.engine.connect() as connection:
            connection.execute(text("SELECT 1 FROM jobs.counters LIMIT 1"))
        report["database"] = "ok"
    except Exception as e:
        report["database"] = f"error: {type(e).__name__}"
    s = service.settings
    url = management_url(s.broker_url, s.management_url)
    if s.broker_url is None:
        report["broker"] = "ok (in-process)"
    elif url is not None:
        try:
            read_queues(url, vhost_of(s.broker_url), timeout_s=3)
            report["broker"] = "ok"
        except Exception as e:
            report["broker"] = f"error: {type(e).__name__}"
    healthy = all(v.startswith("ok") for v in report.values())
    return ("200 OK" if healthy else "503 Service Unavailable"), report


def serve(service: Service, host: str, port: int, stop: threading.Event | None = None) -> None:
    server = make_server(host, port, make_app(service), server_class=_Server, handler_class=_QuietHandler)
    logger.info("metrics exporter on http://%s:%d/metrics (and /healthz)", host, port)
    if stop is None:
        server.serve_forever()
        return
    thread = threading.Thread(target=server.serve_forever, name="exporter", daemon=True)
    thread.start()
    stop.wait()
    server.shutdown()
