#!/usr/bin/env python
"""The console's pages against a year of ledger history: server time and client time of each.

    .venv/bin/python bench/console.py --keep              # fill a fresh database (~20 min), measure, keep it
    .venv/bin/python bench/console.py --reuse bench_XXXX  # measure again on the kept database (~1 min)
    .venv/bin/python bench/console.py --days 7 --nald-children 5000   # quick check (~1 min)

1. **Fill.** In a fresh database migrated as the service does (``wrls-actors
   db upgrade``), set-based SQL writes a production-like year of the WRLS app's
   ledger ending now: every tick of every schedule (check-status every 15 s:
   2.1 million), a run for each tick that started one, each run's steps,
   failures with their retries, time-outs, dead letters and stalls, the
   nightly nald-import's fan-out of ``--nald-children`` children (71,000) and
   the weekday licence-import's two (``--company-children``,
   ``--licence-children``), each child with its step row, its barrier arrival
   and, if it failed, its events; missed, late, skipped and paused ticks, some
   runs started by hand, operator actions. Step and child message ids are
   derived as the runtime derives them (``uuid5(run_id, "step:i")``; a
   child's, the first 80 bits of ``uuid5(run_id, "children:i")`` and its
   position in the last 48: runtime/child_ids.py; with PostgreSQL's
   uuid-ossp), so the run pages find them. The latest finished nald-import run has about 0.2% of its
   children failed: the Run page measured. Indexes of the two largest tables
   are dropped during the load and made again from their own definitions.
2. **Measure.** A real ``wrls-actors api`` process (the WRLS app) on the
   database; a viewer made with ``wrls-actors user add --role viewer
   --password-stdin`` signs in through ``/login``. Each page is requested
   ``--repeats`` times one after another (after 2 untimed) on one keep-alive
   connection. Reported per page, as p50/p95: the server's ``Server-Timing:
   app;dur=`` (the console's pages), the client's wall time, and the same
   ledger reads called in this process (reads.py on its own SQLAlchemy
   engine: the SQL and the rows made into models, no HTTP); ``/healthz`` is
   the trivial page. Pages: Overview ``/``; Runs
   ``/runs?job=check-status&status=failed`` page 1 and page 500 (its "Older
   runs" links followed); Run ``/runs/<the 71,000-child fan-out>``; Runs with
   no filter, a status alone, a job and a rare status; Schedules; Stalls; and
   the /api/v1 equivalents (bearer token). ``--explain`` prints EXPLAIN
   (ANALYZE, BUFFERS) of every statement a page's reads run. Target: each
   page under 300 ms.

Latest figures (2026-12-06, commit b436604, a year: 3.17 million runs and
ticks, 74.6 million steps, 71.4 million arrivals; load average 7 to 8 from
other sessions), server ms p50/p95: Overview 138/233, Runs filtered page 1
12/19 and page 500 27/35, Run 125/169, Runs unfiltered 8.5/33, Schedules
570/950 (not met: cron's minute-by-minute walk for the next ticks). Before
(commit 8d31e16, /api/v1, client ms): jobs 1,891/2,309, runs unfiltered
1,819/2,995. bench/README.md ("Console") has the whole table.

Exits non-zero if a page answers other than 200 or the data is not what was
asked for. See bench/README.md ("Console") for the latest figures.
"""

from __future__ import annotations

import argparse
import html
import http.client
import io
import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

import httpx  # noqa: E402
from api import API_SECRET, percentile, wait_api  # noqa: E402
from sandbox import CLI, sandbox  # noqa: E402
from sqlalchemy import create_engine, event  # noqa: E402
from throughput import BenchError, Worker, log, runtime_version  # noqa: E402

from wrls_actors.runtime.api import reads  # noqa: E402
from wrls_actors.runtime.api.auth import mint  # noqa: E402
from wrls_actors.runtime.console import ledger_reads  # noqa: E402
from wrls_actors.runtime.cron import fire_times  # noqa: E402
from wrls_actors.runtime.database import engine_for  # noqa: E402
from wrls_actors.runtime.retention import make_weeks  # noqa: E402

TARGET_MS = 300.0
PAGE_SIZE = 50
FILTER_JOB = "check-status"

# Typical duration (s) and share of runs failing, per job; the rest (20 s, 1%).
PROFILES = {
    "check-status": (1.5, 0.015),
    "refresh-event": (2.0, 0.004),
    "send-message": (100.0, 0.008),
    "customer-file-refresh": (25.0, 0.02),
    "nald-import": (490.0, 0.02),
    "licence-import": (590.0, 0.02),
    "charging-import-data": (70.0, 0.02),
    "tracker": (3.0, 0.01),
    "export": (40.0, 0.02),
}
DEFAULT_PROFILE = (20.0, 0.01)


# -- fill ---------------------------------------------------------------------


def job_tables(app: str, args) -> tuple[list[tuple], list[tuple], Any]:
    """The app's steps (job, index, actor, queue, retries, child actor, child queue, child retries, children)
    and its schedules' fire times over the year, from the service itself."""
    from wrls_actors.cli import load_service

    service = load_service(app)
    children = {
        ("nald-import", "import-licence"): args.nald_children,
        ("licence-import", "import-company"): args.company_children,
        ("licence-import", "import-licence"): args.licence_children,
        ("export", "export-schema"): 6,
        ("clean", "run-task"): 4,
    }
    steps = []
    for job in service.jobs.values():
        typical, fail = PROFILES.get(job.name, DEFAULT_PROFILE)
        for index, step in enumerate(job.steps):
            child = step.fan_out
            steps.append(
                (
                    job.name,
                    index,
                    len(job.steps),
                    job.actor_name(step),
                    job.queue_of(step),
                    step.max_retries,
                    job.actor_name(child) if child else None,
                    job.queue_of(child) if child else None,
                    child.max_retries if child else None,
                    children.get((job.name, child.name), 10) if child else 0,
                    typical,
                    fail,
                )
            )
    return steps, list(service.schedules.values()), service.tz


def copy_rows(cursor, table: str, rows: list[tuple]) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    buffer.seek(0)
    cursor.copy_from(buffer, table, null="\\N")


def drop_indexes(cursor, tables: list[str]) -> list[str]:
    """Drop the tables' indexes and primary keys; return the statements that make them again."""
    remake = []
    for table in tables:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "WHERE conrelid = %s::regclass AND contype IN ('p', 'u')",
            (table,),
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname || '.' || tablename = %s "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            (table, table),
        )
        indexes = cursor.fetchall()
        for name, definition in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            remake.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for name, definition in indexes:
            cursor.execute(f'DROP INDEX jobs."{name}"')
            # A partitioned table's index is defined ON ONLY the parent: made so, its partitions would lack it.
            remake.append(definition.replace(" ON ONLY ", " ON ", 1))
    return remake


FIRE_DDL = """
CREATE TEMP TABLE g_step (job text, idx int, steps int, actor text, queue text, retries int, fan_actor text,
    fan_queue text, fan_retries int, children int, typical_s float8, fail_rate float8);
CREATE TEMP TABLE g_fire (schedule text, job text, nominal_time timestamptz);
"""

# Each tick's outcome; a run id for those that started one. A few schedules' ticks are late, missed or skipped
# because the last run was still going; customer-file-refresh was paused for three days four months ago.
TICKS = """
CREATE TEMP TABLE g_tick AS
SELECT schedule, job, nominal_time, outcome,
       CASE WHEN outcome IN ('started', 'late', 'caught-up') THEN gen_random_uuid() END AS run_id,
       CASE WHEN outcome = 'late' THEN 60 + r2 * 600 WHEN outcome = 'caught-up' THEN 3600 * r2 ELSE r2 * 0.8 END
           AS lag_s,
       CASE WHEN r2 < 0.02 THEN 1 ELSE 0 END AS duplicates
FROM (
    SELECT f.*,
           CASE WHEN f.schedule = 'customer-file-refresh' AND f.nominal_time >= %(paused_from)s
                     AND f.nominal_time < %(paused_to)s THEN 'paused'
                WHEN r < 0.0008 THEN 'missed'
                WHEN r < 0.0015 THEN 'skipped-overlap'
                WHEN r < 0.0060 THEN 'late'
                WHEN r < 0.0062 AND f.schedule IN (SELECT schedule FROM g_fire GROUP BY schedule
                                                   HAVING count(*) < 20000) THEN 'caught-up'
                ELSE 'started' END AS outcome
    FROM (SELECT g_fire.*, random() AS r, random() AS r2 FROM g_fire) f
) t;
"""

# Runs: one per started tick, and some by hand (cli, http, message) of any job, export among them.
RUNS = """
CREATE TEMP TABLE g_run AS
WITH starts AS (
    SELECT run_id, job, 'schedule'::text AS trigger, NULL::text AS trigger_key, nominal_time,
           nominal_time + make_interval(secs => lag_s) AS started_at
    FROM g_tick WHERE run_id IS NOT NULL
    UNION ALL
    SELECT gen_random_uuid(), j.job, t.trigger,
           CASE WHEN t.trigger = 'http' THEN 'http-' || md5(random()::text) END, NULL,
           %(start)s + random() * (%(now)s - %(start)s)
    FROM (SELECT DISTINCT job FROM g_step) j
    CROSS JOIN LATERAL (SELECT (ARRAY['cli', 'http', 'message'])[1 + (g %% 3)] AS trigger
                        FROM generate_series(1, %(by_hand)s) g) t
), shaped AS (
    SELECT s.*, p.steps, p.typical_s * (0.5 + random()) AS duration_s, random() AS r, random() AS r2,
           random() AS r3, p.fail_rate
    FROM starts s JOIN (SELECT job, max(steps) AS steps, max(typical_s) AS typical_s, max(fail_rate) AS fail_rate
                        FROM g_step GROUP BY job) p USING (job)
)
SELECT run_id, job, trigger, trigger_key, nominal_time, started_at, duration_s, steps,
       CASE WHEN running THEN 'running'
            WHEN r < fail_rate THEN 'failed'
            WHEN r < fail_rate + 0.0003 THEN 'cancelled'
            ELSE 'succeeded' END AS status,
       CASE WHEN running THEN least(steps - 1, floor((extract(epoch FROM %(now)s - started_at) / duration_s) * steps))
            WHEN r < fail_rate + 0.0003 THEN floor(r2 * steps)
            ELSE steps - 1 END::int AS reached,
       CASE WHEN r3 < 0.70 THEN 0 WHEN r3 < 0.95 THEN 0.0002 ELSE 0.01 END AS child_rate,
       CASE WHEN running THEN NULL ELSE started_at + make_interval(secs => duration_s) END AS finished_at
FROM (SELECT shaped.*, started_at + make_interval(secs => duration_s) > %(now)s AS running FROM shaped) x;
CREATE INDEX ON g_run (run_id);
ANALYZE g_run;
"""

# The run measured on the Run page: the latest finished nald-import, with about 0.2% of its children failed.
TARGET_RUN = """
UPDATE g_run SET status = 'succeeded', child_rate = 0.002, reached = steps - 1
WHERE run_id = (SELECT run_id FROM g_run WHERE job = 'nald-import' AND status <> 'running'
                ORDER BY started_at DESC LIMIT 1)
RETURNING run_id::text
"""

ERRORS = (
    "ConnectionError: the Charging Module API did not answer in 30 s",
    "HTTPError: 503 from GOV.UK Notify",
    "OperationalError: could not obtain lock on relation",
    "ValueError: row 1,204 of the CSV has 7 fields, 9 expected",
    "PermanentError: the object store has no object at this key",
)

# A run's own steps: every step up to the one it reached; the failing one failed, timed out or dead-lettered
# after its retries; 1% succeeded at the second attempt; 0.1% stalled once and went on.
STEPS = """
INSERT INTO jobs.steps (message_id, created_on, run_id, actor, queue, attempt, deliveries, rank, status, enqueued_at,
    started_at, heartbeat_at, finished_at, duration_ms, time_limit_ms, stalls, timeouts, error)
SELECT uuid_generate_v5(r.run_id, 'step:' || s.idx)::text, (t0 AT TIME ZONE 'UTC')::date, r.run_id, s.actor, s.queue,
       CASE WHEN ended = 'succeeded' AND x.r < 0.01 THEN 2
            WHEN ended IN ('failed', 'timed-out', 'dead-lettered') THEN s.retries + 1 ELSE 1 END,
       1, CASE WHEN ended = 'running' THEN 1 ELSE 2 END, ended, t0, t0, t1, CASE WHEN ended <> 'running' THEN t1 END,
       CASE WHEN ended <> 'running' THEN extract(epoch FROM t1 - t0) * 1000 END, 600000,
       CASE WHEN x.r2 < 0.001 THEN 1 ELSE 0 END, CASE WHEN ended = 'timed-out' THEN s.retries + 1 ELSE 0 END,
       CASE WHEN ended IN ('failed', 'timed-out', 'dead-lettered')
            THEN (%(errors)s::text[])[1 + floor(x.r * array_length(%(errors)s::text[], 1))::int] END
FROM g_run r JOIN g_step s ON s.job = r.job AND s.idx <= r.reached
CROSS JOIN LATERAL (
    SELECT random() AS r, random() AS r2,
           r.started_at + make_interval(secs => r.duration_s * s.idx / r.steps) AS t0,
           r.started_at + make_interval(secs => r.duration_s * (s.idx + 1) / r.steps) AS t1,
           CASE WHEN s.idx < r.reached OR r.status IN ('succeeded', 'cancelled') THEN 'succeeded'
                WHEN r.status = 'running' THEN 'running'
                WHEN random() < 0.2 THEN 'timed-out'
                WHEN random() < 0.02 THEN 'dead-lettered'
                ELSE 'failed' END AS ended
) x
"""

# A fan-out step published its children if the run went past it, or ended (not failed) on it.
PUBLISHED = "(s.idx < r.reached OR r.status NOT IN ('failed', 'running'))"

# One batch of fan-out runs' children: a step row each, its arrival at the barrier, the barrier.
CHILDREN = """
WITH child AS (
    INSERT INTO jobs.steps (message_id, created_on, run_id, actor, queue, attempt, deliveries, rank, status,
        enqueued_at, started_at, heartbeat_at, finished_at, duration_ms, time_limit_ms, stalls, timeouts, error)
    SELECT left(uuid_generate_v5(r.run_id, 'children:' || s.idx)::text, 24) || lpad(to_hex(p), 12, '0'),
           (t0 AT TIME ZONE 'UTC')::date,
           r.run_id, s.fan_actor, s.fan_queue,
           CASE WHEN failed THEN s.fan_retries + 1 ELSE 1 END, 1, 2,
           CASE WHEN failed THEN 'failed' ELSE 'succeeded' END, t0, t0, t0, t0 + interval '0.2 s', 200, 120000, 0, 0,
           CASE WHEN failed THEN 'KeyError: licence ' || (100000 + p) || ' has no current version' END
    FROM g_run r JOIN g_step s ON s.job = r.job AND s.children > 0 AND s.idx <= r.reached
    CROSS JOIN LATERAL (
        SELECT p, random() < r.child_rate AS failed,
               r.started_at + make_interval(secs => r.duration_s * (s.idx + p::float8 / s.children) / r.steps) AS t0
        FROM generate_series(0, s.children - 1) p
    ) c
    WHERE r.run_id = ANY(%(runs)s::uuid[]) AND {PUBLISHED}
    RETURNING message_id, run_id, actor, status, finished_at
), arrived AS (
    INSERT INTO jobs.barrier_arrivals (run_id, step_index, message_id, failed, counts, arrived_at, run_started_at)
    SELECT child.run_id, s.idx, child.message_id, child.status = 'failed', '{}', child.finished_at, r.started_at
    FROM child JOIN g_step s ON s.fan_actor = child.actor JOIN g_run r ON r.run_id = child.run_id
    RETURNING run_id, step_index, failed, arrived_at, run_started_at
)
INSERT INTO jobs.barriers (run_id, step_index, expected, arrived, failed, counts, created_at, fired_at,
    run_started_at)
SELECT run_id, step_index, count(*), count(*), count(*) FILTER (WHERE failed),
       jsonb_build_object('imported', count(*) FILTER (WHERE NOT failed)), min(arrived_at), max(arrived_at),
       run_started_at
FROM arrived GROUP BY run_id, step_index, run_started_at
""".replace("{PUBLISHED}", PUBLISHED)

# The runs themselves, once their children are known: a fan-out run with failed children completed with failures.
RUNS_INSERT = """
INSERT INTO jobs.runs (run_id, job, trigger, trigger_key, nominal_time, params, status, step_index, started_at,
    finished_at, counts, children_failed, error, note)
SELECT r.run_id, r.job, r.trigger, r.trigger_key, r.nominal_time, '{}',
       CASE WHEN r.status = 'succeeded' AND coalesce(b.failed, 0) > 0 THEN 'completed-with-failures' ELSE r.status END,
       r.reached, r.started_at, r.finished_at,
       CASE WHEN b.imported IS NULL THEN '{}' ELSE jsonb_build_object('imported', b.imported) END,
       coalesce(b.failed, 0), s.error, CASE WHEN r.status = 'cancelled' THEN 'cancelled by an operator' END
FROM g_run r
LEFT JOIN (SELECT run_id, sum(failed)::int AS failed, sum(arrived - failed)::int AS imported
           FROM jobs.barriers GROUP BY run_id) b USING (run_id)
LEFT JOIN jobs.steps s ON r.status = 'failed' AND s.message_id = uuid_generate_v5(r.run_id, 'step:' || r.reached)::text
"""

TICKS_INSERT = """
INSERT INTO jobs.ticks (schedule, nominal_time, outcome, claimed_at, lag_s, run_id, message_id, duplicates, detail)
SELECT schedule, nominal_time, outcome, nominal_time + make_interval(secs => lag_s), lag_s, run_id,
       gen_random_uuid()::text, duplicates,
       CASE outcome WHEN 'late' THEN round(lag_s) || 's after its nominal time'
                    WHEN 'skipped-overlap' THEN 'still running' WHEN 'paused' THEN 'paused: CSV supplier outage'
                    WHEN 'missed' THEN 'no scheduler claimed it in time' END
FROM g_tick
"""

# What went wrong, as the recorder writes it: each retry, each final failure (children's too), each stall; late
# and missed ticks; runs completed with failures; operator actions.
EVENTS = """
INSERT INTO jobs.events (at, kind, job, actor, queue, schedule, run_id, message_id, detail, operator, reason)
SELECT e.at, e.kind, split_part(s.actor, '.', 1), s.actor, s.queue, NULL, s.run_id, s.message_id, e.detail, NULL, NULL
FROM jobs.steps s CROSS JOIN LATERAL (
    SELECT s.finished_at - make_interval(secs => 60 * (s.attempt - g)) AS at, 'retrying' AS kind,
           coalesce(s.error, 'ConnectionError: reset by peer') AS detail
    FROM generate_series(1, s.attempt - 1) g
    UNION ALL
    SELECT s.finished_at, s.status, s.error WHERE s.status IN ('failed', 'timed-out', 'dead-lettered')
    UNION ALL
    SELECT s.started_at + interval '10 min', 'stalled', 'no heartbeat for 600 s' WHERE s.stalls > 0
) e
WHERE s.attempt > 1 OR s.stalls > 0 OR s.status IN ('failed', 'timed-out', 'dead-lettered')
UNION ALL
SELECT claimed_at, 'tick-' || outcome, NULL, NULL, NULL, schedule, NULL, NULL, detail, NULL, NULL
FROM jobs.ticks WHERE outcome IN ('late', 'missed')
UNION ALL
SELECT finished_at, 'run-completed-with-failures', job, NULL, NULL, NULL, run_id, NULL,
       children_failed || ' children failed', NULL, NULL
FROM jobs.runs WHERE status = 'completed-with-failures'
UNION ALL
SELECT finished_at + interval '2 h', 'run-retried', job, NULL, NULL, NULL, run_id, NULL, 'failed children', 'ops-lead',
       'the failed licences were fixed in NALD'
FROM jobs.runs WHERE status = 'completed-with-failures' AND job = 'nald-import' AND random() < 0.2
UNION ALL
SELECT t, kind, NULL, NULL, NULL, 'customer-file-refresh', NULL, NULL, NULL, 'ops-lead', 'CSV supplier outage'
FROM (VALUES (%(paused_from)s::timestamptz, 'schedule-paused'), (%(paused_to)s::timestamptz, 'schedule-resumed'))
     v(t, kind)
ORDER BY 1
"""

COUNTERS = """
INSERT INTO jobs.counters (name, labels, value)
SELECT 'runs_total', jsonb_build_object('job', job, 'status', status), count(*) FROM jobs.runs GROUP BY job, status
UNION ALL
SELECT 'steps_total', jsonb_build_object('actor', actor, 'status', status), count(*)
FROM jobs.steps GROUP BY actor, status
UNION ALL
SELECT 'ticks_total', jsonb_build_object('schedule', schedule, 'outcome', outcome), count(*)
FROM jobs.ticks GROUP BY schedule, outcome
"""


def fill(db_url: str, args, now: datetime) -> str:
    """Write the year; return the Run page's run id."""
    import psycopg2

    steps, schedules, tz = job_tables(args.app, args)
    start = now - timedelta(days=args.days)
    paused_from = now - timedelta(days=min(120, args.days // 2 + 1))
    paused_to = paused_from + timedelta(days=3)
    values = {"start": start, "now": now, "paused_from": paused_from, "paused_to": paused_to}
    connection = psycopg2.connect(db_url)
    t_fill = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off; SET work_mem = '256MB'; SET maintenance_work_mem = '1GB'")
            cursor.execute('CREATE EXTENSION IF NOT EXISTS "uuid-ossp"')
            cursor.execute("SELECT count(*) FROM jobs.runs")
            if cursor.fetchone()[0]:
                raise BenchError("the ledger is not empty")
            cursor.execute(FIRE_DDL)
            copy_rows(cursor, "g_step", steps)
            t0 = time.perf_counter()
            for schedule in schedules:
                if schedule.every is not None:
                    cursor.execute(
                        "INSERT INTO g_fire SELECT %s, %s, to_timestamp(t) FROM generate_series("
                        "(floor(extract(epoch FROM %s::timestamptz) / %s) + 1) * %s, "
                        "extract(epoch FROM %s::timestamptz), %s) t",
                        (schedule.name, schedule.job, start, (step := schedule.every.total_seconds()), step, now, step),
                    )
                else:
                    copy_rows(
                        cursor,
                        "g_fire",
                        [(schedule.name, schedule.job, t.isoformat()) for t in fire_times(schedule, start, now, tz)],
                    )
            log(f"  fire times of {len(schedules)} schedules: {time.perf_counter() - t0:.1f} s")

            def timed(what: str, sql: str, params: dict | None = None) -> None:
                t0 = time.perf_counter()
                cursor.execute(sql, params)
                log(f"  {what}: {cursor.rowcount:,} rows, {time.perf_counter() - t0:.1f} s")

            timed("ticks", TICKS, values)
            timed("runs", RUNS, {**values, "by_hand": args.by_hand})
            cursor.execute(TARGET_RUN)
            target = cursor.fetchone()
            if target is None:
                raise BenchError("no finished nald-import run: give --days 2 or more")
            target_run = target[0]
            remake = drop_indexes(cursor, ["jobs.steps", "jobs.barrier_arrivals"])
            connection.commit()
            timed("steps of the runs", STEPS, {"errors": list(ERRORS)})
            connection.commit()
            cursor.execute(
                "SELECT r.run_id::text, sum(s.children) FROM g_run r JOIN g_step s ON s.job = r.job "
                f"AND s.children > 0 AND s.idx <= r.reached AND {PUBLISHED} "
                "GROUP BY r.run_id, r.started_at ORDER BY r.started_at"
            )
            fan_runs = cursor.fetchall()
            total = sum(n for _, n in fan_runs)
            done = 0
            t0 = time.perf_counter()
            batch: list[str] = []
            batch_n = 0
            for i, (run_id, n) in enumerate(fan_runs):
                batch.append(run_id)
                batch_n += n
                if batch_n >= 1_000_000 or i == len(fan_runs) - 1:
                    cursor.execute(CHILDREN, {"runs": batch})
                    connection.commit()
                    done += batch_n
                    batch, batch_n = [], 0
                    spent = time.perf_counter() - t0
                    log(
                        f"  children: {done:,} of {total:,} ({spent:.0f} s, {spent / done * (total - done):.0f} s left)"
                    )
            for statement in remake:
                t0 = time.perf_counter()
                cursor.execute(statement)
                connection.commit()
                log(f"  {statement[:90]}: {time.perf_counter() - t0:.1f} s")
            timed("runs", RUNS_INSERT)
            timed("ticks", TICKS_INSERT)
            connection.commit()
            timed("events", EVENTS, values)
            timed("counters", COUNTERS)
            connection.commit()
        connection.autocommit = True
        with connection.cursor() as cursor:
            t0 = time.perf_counter()
            cursor.execute("VACUUM ANALYZE")
            log(f"  VACUUM ANALYZE: {time.perf_counter() - t0:.1f} s")
    finally:
        connection.close()
    log(f"filled in {time.perf_counter() - t_fill:.0f} s")
    return target_run


def ledger_sizes(db) -> list[tuple[str, int, str]]:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reltuples::bigint, pg_size_pretty(pg_total_relation_size(c.oid)) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'jobs' AND c.relkind = 'r' ORDER BY pg_total_relation_size(c.oid) DESC"
        )
        return cursor.fetchall()


def target_run_of(db) -> str:
    """The Run page's run in a kept database: the nald-import whose children were failed on purpose."""
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT run_id::text FROM jobs.runs WHERE job = 'nald-import' AND status <> 'running' "
            "ORDER BY started_at DESC LIMIT 1"
        )
        row = cursor.fetchone()
    if row is None:
        raise BenchError("the database has no finished nald-import run")
    return row[0]


# -- measure ------------------------------------------------------------------

SERVER_TIMING = re.compile(r"(?:^|,)\s*app\s*;\s*dur=([0-9.]+)")


class Client:
    """One keep-alive connection to the API: GET a path, return (status, body, wall ms, server ms or None)."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = headers
        self.console_headers: dict[str, str] = {}

    def get(self, path: str) -> tuple[int, bytes, float, float | None]:
        # The API's pages take the bearer token, the console's the session cookie.
        headers = self.headers if path.startswith("/api/") else self.console_headers
        t0 = time.perf_counter()
        try:
            self.connection.request("GET", path, headers=headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # uvicorn closes a connection idle for 5 s (while this process times the reads): open another.
            self.connection.close()
            t0 = time.perf_counter()
            self.connection.request("GET", path, headers=headers)
            response = self.connection.getresponse()
        body = response.read()
        wall = (time.perf_counter() - t0) * 1000
        match = SERVER_TIMING.search(response.getheader("Server-Timing") or "")
        return response.status, body, wall, float(match.group(1)) if match else None

    def close(self) -> None:
        self.connection.close()


class Page:
    def __init__(self, name: str, path: str, read) -> None:
        self.name = name
        self.path = path
        self.read = read  # the same ledger reads in this process, or None
        self.wall: list[float] = []
        self.server: list[float] = []
        self.direct: list[float] = []
        self.size = 0

    def line(self) -> str:
        def p(values: list[float]) -> str:
            if not values:
                return "-"
            ordered = sorted(values)
            return f"{percentile(ordered, 50):.1f} / {percentile(ordered, 95):.1f}"

        return f"{self.name:<34} {p(self.server):>17} {p(self.wall):>17} {p(self.direct):>17} {self.size:>9,}"

    def worst_ms(self) -> float:
        return percentile(sorted(self.server or self.wall), 95)


def walk_to_page(client: Client, path: str, page: int) -> str:
    """The cursor of page ``page``, following next_cursor from page 1 (untimed)."""
    cursor = None
    for n in range(1, page):
        status, body, _, _ = client.get(path + (f"&cursor={cursor}" if cursor else ""))
        if status != 200:
            raise BenchError(f"GET {path} page {n}: HTTP {status}: {body[:200]!r}")
        cursor = json.loads(body)["next_cursor"]
        if cursor is None:
            raise BenchError(f"{path} has only {n} pages of {PAGE_SIZE}; {page} wanted")
    assert cursor is not None
    return cursor


NEXT_LINK = re.compile(r'href="([^"]+)" rel="next"')


def walk_console_to_page(client: Client, path: str, page: int) -> str:
    """The console's path of page ``page``, following its "Older runs" link from page 1 (untimed)."""
    for n in range(1, page):
        status, body, _, _ = client.get(path)
        if status != 200:
            raise BenchError(f"GET {path} (page {n}): HTTP {status}: {body[:200]!r}")
        found = NEXT_LINK.search(body.decode())
        if found is None:
            raise BenchError(f"the console's runs have only {n} pages; {page} wanted")
        path = html.unescape(found.group(1))
    return path


def sign_in_viewer(box, env: dict[str, str], base: str) -> str:
    """A viewer account made with the CLI, signed in as a browser does; the session's Cookie header."""
    name, password = "bench.viewer", "bench viewer password 1"
    for action in ("add", "set"):  # set: a kept database has the account already
        done = subprocess.run(
            [*CLI, "user", action, name, "--role", "viewer", "--password-stdin"],
            input=password,
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if done.returncode == 0:
            break
    else:
        raise BenchError(f"wrls-actors user add/set {name}: {done.stderr.strip()[-300:]}")
    with httpx.Client(base_url=base, timeout=30) as client:
        form = client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        if token is None:
            raise BenchError("no CSRF token on /login")
        answer = client.post("/login", data={"csrf": token.group(1), "name": name, "password": password, "next": "/"})
        if answer.status_code != 303:
            raise BenchError(f"POST /login: HTTP {answer.status_code}: {answer.text[:200]}")
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def capture_statements(engine) -> list[tuple[str, Any]]:
    captured: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def remember(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    return captured


def explain(engine, page: Page, captured: list[tuple[str, Any]]) -> None:
    captured.clear()
    with engine.connect() as connection:
        page.read(connection)
    statements = list(captured)
    print(f"\n=== {page.name}: {page.path}")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in statements:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            plan = "\n".join(r[0] for r in cursor.fetchall())
            print(f"--- {statement[:160]}\n{plan}")
        cursor.close()
    finally:
        raw.close()


def measure(args, box, target_run: str) -> list[Page]:
    from wrls_actors.cli import load_service

    env = box.env(WRLS_API_JWT_SECRET=API_SECRET, WRLS_API_PORT=str(args.port))
    api = Worker("api", [*CLI, "--app", args.app, "api"], env, box.tmp)
    box.workers.append(api)
    base = f"http://127.0.0.1:{args.port}"
    wait_api(base, api)
    token = mint(API_SECRET, "bench-console", 3600)
    client = Client(args.port, {"Authorization": f"Bearer {token}"})
    engine = create_engine(box.db_url.replace("postgresql://", "postgresql+psycopg2://"), pool_size=1)
    captured = capture_statements(engine)
    service = load_service(args.app)
    jobs = service.jobs
    client.console_headers = {"Cookie": sign_in_viewer(box, env, base)}
    api_runs = f"/api/v1/runs?job={FILTER_JOB}&status=failed&limit={PAGE_SIZE}"
    console_runs = f"/runs?job={FILTER_JOB}&status=failed"
    log(f"following the console's Older runs links to page {args.page} of {console_runs}")
    deep = walk_console_to_page(client, console_runs, args.page)
    cursor = parse_qs(urlsplit(deep).query)["cursor"][0]
    log(f"following next_cursor to page {args.page} of {api_runs}")
    api_cursor = walk_to_page(client, api_runs, args.page)

    def runs_read(cursor_value, job=FILTER_JOB, status="failed"):
        return lambda c: reads.runs_page(
            c,
            job=job,
            status=status,
            trigger=None,
            since=None,
            until=None,
            cursor=cursor_value,
            limit=PAGE_SIZE,
        )

    def overview_read(c):
        reads.last_runs(c, list(jobs))
        ledger_reads.job_figures(c, list(jobs), datetime.now(UTC) - timedelta(days=1))
        reads.pauses(c)

    pages = [
        Page("trivial: /healthz", "/healthz", None),
        Page("Overview /", "/", overview_read),
        Page("Runs job & failed, page 1", console_runs, runs_read(None)),
        Page(f"Runs job & failed, page {args.page}", deep, runs_read(cursor)),
        Page("Run, 71,000-child fan-out", f"/runs/{target_run}", lambda c: reads.run_detail(c, target_run, jobs)),
        Page("Runs, no filter, page 1", "/runs", runs_read(None, None, None)),
        Page("Runs failed, page 1", "/runs?status=failed", runs_read(None, None)),
        Page(
            "Runs job & cancelled, page 1",
            f"/runs?job={FILTER_JOB}&status=cancelled",
            runs_read(None, status="cancelled"),
        ),
        Page("Schedules", "/schedules", None),
        Page("Stalls", "/stalls", None),
        Page("API /api/v1/jobs", "/api/v1/jobs", None),
        Page("API runs job & failed, page 1", api_runs, None),
        Page(f"API runs job & failed, page {args.page}", f"{api_runs}&cursor={api_cursor}", None),
        Page("API run, 71,000-child fan-out", f"/api/v1/runs/{target_run}", None),
        Page("API /api/v1/schedules", "/api/v1/schedules", None),
    ]
    try:
        for page in pages:
            for i in range(2 + args.repeats):
                status, body, wall, server = client.get(page.path)
                if status != 200:
                    raise BenchError(f"GET {page.path}: HTTP {status}: {body[:300]!r}")
                if i >= 2:
                    page.wall.append(wall)
                    if server is not None:
                        page.server.append(server)
                page.size = len(body)
            if page.read is not None:
                for i in range(2 + args.repeats):
                    t0 = time.perf_counter()
                    with engine.connect() as connection:
                        page.read(connection)
                    if i >= 2:
                        page.direct.append((time.perf_counter() - t0) * 1000)
            log(f"  {page.line()}")
        detail = json.loads(client.get(f"/api/v1/runs/{target_run}")[1])
        fan = [s["fan_out"] for s in detail["steps"] if s.get("fan_out")]
        if not fan or fan[0]["expected"] != args.nald_children or not fan[0]["failures"]:
            raise BenchError(f"the Run page's run {target_run} is not a fan-out of {args.nald_children} with failures")
        log(
            f"  the Run page: {fan[0]['arrived']:,} of {fan[0]['expected']:,} arrived, {fan[0]['failed']} failed, "
            f"{len(fan[0]['failures'])} listed, {len(detail['events'])} events"
        )
        if args.explain:
            for page in pages:
                if page.read is not None:
                    explain(engine, page, captured)
        api.check()
    finally:
        client.close()
        engine.dispose()
    return pages


def add_fill_options(p: argparse.ArgumentParser) -> None:
    """The options of ``fill`` (this benchmark's and bench/ledger_scale.py's)."""
    p.add_argument("--days", type=int, default=365, help="days of history, ending now")
    p.add_argument("--nald-children", type=int, default=71_000, help="children of each nightly nald-import")
    p.add_argument("--licence-children", type=int, default=71_000, help="licence children of each licence-import")
    p.add_argument("--company-children", type=int, default=69_000, help="company children of each licence-import")
    p.add_argument("--by-hand", type=int, default=50, help="runs of each job started by hand over the period")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_fill_options(p)
    p.add_argument("--repeats", type=int, default=30, help="timed requests of each page")
    p.add_argument("--page", type=int, default=500, help="the deep page of the filtered runs")
    p.add_argument("--explain", action="store_true", help="EXPLAIN (ANALYZE, BUFFERS) every statement of each page")
    p.add_argument("--app", default="wrls_actors.app:service")
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--rabbit", default="amqp://guest:guest@127.0.0.1:5672")
    p.add_argument("--management", default="http://127.0.0.1:15672/api")
    p.add_argument("--port", type=int, default=18017, help="the API's port")
    p.add_argument("--keep", action="store_true", help="keep the database (and vhost and API log)")
    p.add_argument("--reuse", metavar="NAME", help="measure on a database kept by an earlier run (not filled again)")
    args = p.parse_args()
    for name in ("days", "nald_children", "licence_children", "company_children", "repeats", "page"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.by_hand < 0:
        p.error("--by-hand must be 0 or more")

    with sandbox(args, "console") as box:
        db = box.connect()
        if box.reused:
            # A database kept before a new migration is brought to it; the time is what the migration costs.
            t0 = time.perf_counter()
            box.upgrade(box.env())
            log(f"db upgrade of the kept database: {time.perf_counter() - t0:.1f} s")
            target_run = target_run_of(db)
            with db.cursor() as cursor:
                cursor.execute("SELECT expected FROM jobs.barriers WHERE run_id = %s::uuid", (target_run,))
                row = cursor.fetchone()
            args.nald_children = row[0] if row else args.nald_children
        else:
            box.upgrade(box.env())
            now = datetime.now(UTC)
            # The history's weeks, as the ledger-retention job would have made them week by week.
            make_weeks(engine_for(box.db_url), (now - timedelta(days=args.days + 1)).date(), now.date())
            log(f"filling {args.days} days of ledger ending {now:%Y-%m-%d %H:%M} UTC")
            target_run = fill(box.db_url, args, now)
        sizes = ledger_sizes(db)
        pages = measure(args, box, target_run)

    print()
    print(
        f"Console pages on a ledger of {args.days} days ({runtime_version()}); {args.repeats} requests each, one client"
    )
    print("  " + ", ".join(f"{name} {rows:,} rows {size}" for name, rows, size in sizes if rows > 0))
    print(f"  {'page':<34} {'server ms p50/p95':>17} {'client ms p50/p95':>17} {'reads ms p50/p95':>17} {'bytes':>9}")
    for page in pages:
        print(f"  {page.line()}")
    slow = [page.name for page in pages[1:] if page.worst_ms() >= TARGET_MS]
    print(
        f"  target: each page under {TARGET_MS:.0f} ms (p95): " + ("met" if not slow else "NOT met: " + ", ".join(slow))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
