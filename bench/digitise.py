#!/usr/bin/env python
"""The two digitise jobs at production scale, against the legacy's per-item method.

    .venv/bin/python bench/digitise.py [--licences 20000] [--edited 5000] [--conditions 300000] [--sample 500]
    .venv/bin/python bench/digitise.py --quick          # 2,000 licences, 500 edited (~20 s)

In a fresh RabbitMQ vhost and PostgreSQL database (deleted at the end, also
after a failure or Ctrl-C; ``--keep`` keeps them and the worker log):

1. Generated with set-based SQL: ``--licences`` ``water.licences`` and their
   NALD copies in ``permit.licence`` (type 8, regime 1, with a
   ``data.current_version``); four NALD conditions per licence in
   ``water.licence_version_purpose_conditions`` (``ID:REGION:AABP_ID``, plus
   an older row for one of them) and unrelated rows up to ``--conditions``;
   ``--stations`` gauging stations; approved digitise edits (type 10) of
   ``--edited`` licences, 1-4 WR22 items each (flow, level and
   threshold-less items over ten schemas, some values edited twice, some
   items added then deleted), 1% of them bad (an unknown condition, a
   malformed URI, edits that cannot be replayed), and edits "In review" for
   2% more. The plan of every item is kept in schema ``bench``, and the rows
   each job must write are counted from it.
2. Baseline: the legacy's method (bench/legacy_digitise.py: per licence and per
   item, sequential awaited queries on ``--legacy-connections`` connections)
   on ``--sample`` of the edited licences, for each job; then what it wrote is
   deleted and the last-copied dates reset, so the jobs find the generated data.
3. One worker process (the WRLS app, one thread: each job is one step), then
   each job triggered twice: timed from the run's start to its end in
   ``jobs.runs``; the second run must write nothing.

Exit code 1 if a count differs from the plan: licences copied or skipped,
rows written (counts and table contents), a second run writing anything, or
the baseline writing other than the plan. See bench/README.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import psycopg2

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

import legacy_digitise  # noqa: E402
from sandbox import CLI, sandbox  # noqa: E402
from throughput import BenchError, Management, Worker, log  # noqa: E402

LINKS_JOB = "digitise-to-licence-gauging-stations"
LVPC_JOB = "digitise-to-lvp-sync"
SCHEMAS = [
    "/wr22/2.1",
    "/wr22/2.2",
    "/wr22/2.3",
    "/wr22/2.4",
    "/wr22/2.5",
    "/wr22/2.6",
    "/wr22/2.7",
    "/wr22/2.8",
    "/wr22/2.9.1",
    "/wr22/2.9.4",
]
BAD_KINDS = ["unknown-condition", "malformed-uri", "replay-error"]
UNKNOWN_CONDITION = 999_999_999

# Each statement is set-based; %(name)s are the sizes. The bench schema holds the plan the checks count from.
GENERATE = [
    "CREATE SCHEMA bench",
    """CREATE TABLE bench.licence AS
       SELECT i, format('%%s/%%s/%%s', lpad((i %% 8 + 1)::text, 2, '0'), 28 + i %% 10, lpad(i::text, 6, '0')) AS ref,
              i %% 8 + 1 AS region
         FROM generate_series(1, %(licences)s) i""",
    """INSERT INTO water.licences (region_id, licence_ref, start_date)
       SELECT (SELECT region_id FROM water.regions ORDER BY nald_region_id LIMIT 1), ref, DATE '2000-01-01' + i %% 7000
         FROM bench.licence""",
    # The NALD copy: the replay starts from it, so it has the size and shape of one (purposes with conditions).
    """INSERT INTO permit.licence (licence_regime_id, licence_type_id, licence_ref, licence_data_value)
       SELECT 1, 8, ref, jsonb_build_object('ID', i, 'FGAC_REGION_CODE', region, 'LIC_NO', ref, 'data',
                jsonb_build_object('current_version', jsonb_build_object(
                    'licence', jsonb_build_object('ID', i, 'LIC_NO', ref, 'ORIG_EFF_DATE', '01/04/2000',
                                                  'EXPIRY_DATE', 'null', 'AREP_AREA_CODE', 'ARCA'),
                    'purposes', (SELECT jsonb_agg(jsonb_build_object(
                        'ID', i * 4 + k, 'purposePrimary', jsonb_build_object('CODE', 'A', 'DESCR', 'Agriculture'),
                        'purposeUse', jsonb_build_object('CODE', '400', 'DESCR', 'Spray Irrigation - Direct'),
                        'PERIOD_ST_DAY', '1', 'PERIOD_ST_MONTH', '4', 'PERIOD_END_DAY', '31', 'PERIOD_END_MONTH', '10',
                        'licenceConditions', jsonb_build_array(jsonb_build_object(
                            'ID', i * 4 + k, 'FGAC_REGION_CODE', region, 'TEXT', 'Flow cessation condition',
                            'condition_type', jsonb_build_object('CODE', 'CES', 'SUBCODE', 'FLOW')))))
                      FROM generate_series(0, 3) k)),
                  'versions', '[]'::jsonb))
         FROM bench.licence""",
    """INSERT INTO water.gauging_stations (label, grid_reference, catchment_name, river_name, station_reference)
       SELECT 'Station ' || s, 'TL' || lpad((s * 37 %% 10000)::text, 4, '0'), 'Catchment ' || s %% 50,
              'River ' || s %% 300, 'ST' || s
         FROM generate_series(1, %(stations)s) s""",
    """CREATE TABLE bench.station AS
       SELECT (row_number() OVER (ORDER BY gauging_station_id) - 1)::int AS n, gauging_station_id AS id
         FROM water.gauging_stations""",
    # Four NALD conditions per licence, an older row of the first (the jobs take the newest), then unrelated rows.
    """INSERT INTO water.licence_version_purpose_conditions (licence_version_purpose_id,
              licence_version_purpose_condition_type_id, external_id, source, notes, date_created)
       SELECT gen_random_uuid(), gen_random_uuid(), (i * 4 + k) || ':' || region || ':' || (i * 4 + k + 7), 'nald',
              'NALD condition', now() - interval '30 days'
         FROM bench.licence, generate_series(0, 3) k
       UNION ALL
       SELECT gen_random_uuid(), gen_random_uuid(), (i * 4) || ':' || region || ':' || (90000000 + i), 'nald',
              'older NALD condition', now() - interval '2 years'
         FROM bench.licence""",
    """INSERT INTO water.licence_version_purpose_conditions (licence_version_purpose_id,
              licence_version_purpose_condition_type_id, external_id, source, notes, date_created)
       SELECT gen_random_uuid(), gen_random_uuid(), (100000000 + j) || ':' || (j %% 8 + 1) || ':' || j, 'nald',
              'other NALD condition', now() - interval '1 year'
         FROM generate_series(1, greatest(%(conditions)s - 5 * %(licences)s, 0)) j""",
    # Licences spread over all; 1 in 100 is bad, of each kind in turn.
    """CREATE TABLE bench.edited AS
       SELECT e, l.i, l.ref, l.region,
              CASE WHEN e %% 100 = 50 THEN (ARRAY['unknown-condition', 'malformed-uri', 'replay-error'])[
                   (e / 100) %% 3 + 1] END AS bad
         FROM generate_series(1, %(edited)s) e
         JOIN bench.licence l ON l.i = (e - 1) * %(licences)s / %(edited)s + 1""",
    """CREATE TABLE bench.item AS
       SELECT x.*,
              CASE x.kind WHEN 'flow' THEN (ARRAY['m³/s', 'l/s', 'Ml/d', 'm3/d'])[(x.e + x.k) %% 4 + 1]
                          WHEN 'level' THEN (ARRAY['mAOD', 'mASD', 'm'])[(x.e + x.k) %% 3 + 1] END AS unit,
              (x.k + 1) * 1.5 + x.e %% 10 AS value,
              s.id AS station
         FROM (SELECT d.e, d.i, d.region, d.bad, k,
                      (ARRAY%(schemas)s)[(d.e + k) %% 10 + 1] AS schema,
                      CASE WHEN d.bad = 'unknown-condition' AND k = 0 THEN %(unknown)s ELSE d.i * 4 + k END AS nald_id,
                      CASE (d.e + 2 * k) %% 5 WHEN 0 THEN 'flow' WHEN 1 THEN 'flow' WHEN 2 THEN 'level'
                           WHEN 3 THEN 'level' ELSE 'none' END AS kind
                 FROM bench.edited d, generate_series(0, d.e * 7 %% 4) k) x
         JOIN bench.station s ON s.n = (x.e * 4 + x.k) %% %(stations)s""",
    """CREATE TABLE bench.action (e int, ord int, action jsonb)""",
    # Each item: added, its content filled in (a third of the first items with another value first, edited
    # after), as the digitise tool does.
    """INSERT INTO bench.action
       SELECT e, k * 10, jsonb_build_object('type', 'add.data', 'payload', jsonb_build_object(
                  'id', 'item-' || k, 'schema', schema, 'issueNumber', 1, 'incrementNumber', k,
                  'user', jsonb_build_object('id', 1, 'email', 'digitiser@example.gov.uk'), 'timestamp', 1))
         FROM bench.item
       UNION ALL
       SELECT e, k * 10 + 1, jsonb_build_object('type', 'edit.data', 'payload', jsonb_build_object(
                  'id', 'item-' || k, 'user', jsonb_build_object('id', 1), 'timestamp', 2,
                  'data', jsonb_strip_nulls(jsonb_build_object(
                      'nald_condition', jsonb_build_object(
                          'id', CASE WHEN bad = 'malformed-uri' AND k = 0 THEN 'nald://conditions/x/' || nald_id
                                     ELSE 'nald://conditions/' || region || '/' || nald_id END,
                          'value', 'NALD condition ' || nald_id),
                      'gauging_station', jsonb_build_object('id', station, 'value', 'Station'),
                      'water_body_name', jsonb_build_object('id', '138c4d3d-3307-3e03-a9c3-0a04d55cfa21',
                                                            'name', 'ADUR', 'value', 'ADUR (GB540704116000)'),
                      'max_rate', CASE WHEN kind = 'flow' THEN
                                  CASE WHEN e %% 3 = 0 AND k = 0 THEN value + 100 ELSE value END END,
                      'max_rate_unit', CASE WHEN kind = 'flow' THEN unit END,
                      'hol_rate_level', CASE WHEN kind = 'level' THEN
                                        CASE WHEN e %% 3 = 0 AND k = 0 THEN value + 100 ELSE value END END,
                      'unit', CASE WHEN kind = 'level' THEN unit END,
                      'rate_type', 'Daily', 'point', 'Abstraction point',
                      'measurement_point', jsonb_build_object('measurement_point_type',
                          (ARRAY['Upstream', 'Downstream', 'Borehole'])[k %% 3 + 1]),
                      'gauging_board', 'the gauging board at the sluice'))))
         FROM bench.item
       UNION ALL
       SELECT e, 2, jsonb_build_object('type', 'edit.data', 'payload', jsonb_build_object(
                  'id', 'item-0', 'user', jsonb_build_object('id', 2), 'timestamp', 3,
                  'data', CASE WHEN kind = 'flow' THEN jsonb_build_object('max_rate', value)
                               ELSE jsonb_build_object('hol_rate_level', value) END))
         FROM bench.item WHERE e %% 3 = 0 AND k = 0 AND kind <> 'none'
       UNION ALL
       SELECT e, 90 + n, CASE n
                  WHEN 0 THEN jsonb_build_object('type', 'add.data', 'payload', jsonb_build_object(
                                 'id', 'gone', 'schema', '/wr22/2.5', 'issueNumber', 1, 'incrementNumber', 9))
                  WHEN 1 THEN jsonb_build_object('type', 'edit.data', 'payload', jsonb_build_object('id', 'gone',
                                 'data', jsonb_build_object('nald_condition',
                                     jsonb_build_object('id', 'nald://conditions/' || region || '/' || i * 4),
                                     'max_rate', 77, 'max_rate_unit', 'l/s')))
                  ELSE jsonb_build_object('type', 'delete.data', 'payload', jsonb_build_object('id', 'gone')) END
         FROM bench.edited, generate_series(0, 2) n WHERE e %% 7 = 0
       UNION ALL
       SELECT e, 95, jsonb_build_object('type', 'edit.data', 'payload', jsonb_build_object('id', 'missing',
                                                                                           'data', '{}'::jsonb))
         FROM bench.edited WHERE bad = 'replay-error'
       UNION ALL
       SELECT e, 99, jsonb_build_object('type', 'set.status', 'payload',
                                        jsonb_build_object('status', 'Approved', 'notes', 'Checked'))
         FROM bench.edited""",
    """INSERT INTO permit.licence (licence_regime_id, licence_type_id, licence_ref, licence_data_value)
       SELECT 1, 10, d.ref, jsonb_build_object('status', 'Approved', 'actions', jsonb_agg(a.action ORDER BY a.ord))
         FROM bench.edited d JOIN bench.action a USING (e) GROUP BY d.e, d.ref""",
    # Edits still in review, on the next licence of every 50th: never due.
    """INSERT INTO permit.licence (licence_regime_id, licence_type_id, licence_ref, licence_data_value)
       SELECT 1, 10, l.ref, jsonb_build_object('status', 'In review', 'actions', p.licence_data_value->'actions')
         FROM bench.edited d
         JOIN bench.licence l ON l.i = d.i + 1
         JOIN permit.licence p ON p.licence_type_id = 10 AND p.licence_ref = d.ref
        WHERE d.e %% 50 = 0 AND NOT EXISTS (SELECT 1 FROM bench.edited o WHERE o.i = d.i + 1)""",
]

EXPECTED = """
SELECT (SELECT count(*) FROM bench.edited WHERE bad IS NULL AND e = ANY(%(es)s)),
       (SELECT count(*) FROM bench.edited WHERE bad IS NOT NULL AND e = ANY(%(es)s)),
       (SELECT count(DISTINCT (e, station, kind, replace(unit, '³', '3'), value)) FROM bench.item
         WHERE bad IS NULL AND kind <> 'none' AND e = ANY(%(es)s)),
       (SELECT count(DISTINCT (e, nald_id, schema)) FROM bench.item WHERE bad IS NULL AND e = ANY(%(es)s)),
       (SELECT count(*) FROM bench.item WHERE bad IS NULL AND e = ANY(%(es)s))
"""

RESET = [
    "DELETE FROM water.licence_gauging_stations WHERE source = 'digitise'",
    "DELETE FROM water.licence_version_purpose_conditions WHERE source = 'digitise'",
    "UPDATE permit.licence SET date_gauging_station_links_last_copied = NULL, "
    "date_licence_version_purpose_conditions_last_copied = NULL WHERE licence_type_id = 10",
]


class Plan:
    """What the generated data must give, for all the edited licences or a sample."""

    def __init__(self, db, es: list[int]) -> None:
        with db.cursor() as cursor:
            cursor.execute(EXPECTED, {"es": es})
            self.copied, self.skipped, self.links, self.conditions, self.items = cursor.fetchone()


def scalar(db, sql: str, *params):
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def execute(db, statements, params=None) -> None:
    with db.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, params)


def generate(db, args) -> None:
    params = {
        "licences": args.licences,
        "edited": args.edited,
        "stations": args.stations,
        "conditions": args.conditions,
        "unknown": UNKNOWN_CONDITION,
        "schemas": psycopg2.extensions.AsIs("[" + ", ".join(f"'{s}'" for s in SCHEMAS) + "]"),
    }
    execute(db, GENERATE, params)
    for table in (
        "water.licences",
        "permit.licence",
        "water.licence_version_purpose_conditions",
        "water.gauging_stations",
        "water.licence_gauging_stations",
    ):
        execute(db, [f"VACUUM ANALYZE {table}"])


def sample(db, size: int) -> list[tuple]:
    """The first ``size`` edited licences, bad ones included: (e, permit licence id, ref, edits).

    Consecutive, so the sample has the mix of the whole: item counts, kinds
    and schemas cycle with ``e`` (every 4, 5 and 10), the bad ones come at
    e = 50, 150, ... The licences themselves are spread over all of them.
    """
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT d.e, p.licence_id, p.licence_ref, p.licence_data_value FROM bench.edited d "
            "JOIN permit.licence p ON p.licence_type_id = 10 AND p.licence_ref = d.ref "
            "WHERE d.e <= %s ORDER BY d.e",
            (size,),
        )
        return cursor.fetchall()


def explain(db, sql: str, params) -> str:
    with db.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) " + sql, params)
        return "\n".join("      " + row[0] for row in cursor.fetchall())


def baseline(db, db_url: str, rows: list[tuple], job: str, connections: int) -> dict:
    figures = legacy_digitise.run(db_url, job, [row[1:] for row in rows], connections)
    execute(db, RESET)
    execute(
        db,
        [
            "VACUUM ANALYZE water.licence_gauging_stations",
            "VACUUM ANALYZE water.licence_version_purpose_conditions",
            "VACUUM ANALYZE permit.licence",
        ],
    )
    return figures


def trigger(cli, env, job: str) -> str:
    return subprocess.run(
        [*cli, "trigger", job], env=env, check=True, cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()


def run_job(db, cli, env, job: str, workers, timeout: float) -> dict:
    """Trigger the job and wait for its run to end; its counts and seconds from start to end in the ledger."""
    run_id = trigger(cli, env, job)
    deadline = time.monotonic() + timeout
    while True:
        for worker in workers:
            worker.check()
        status, counts, error, seconds = _rows(
            db,
            "SELECT status, counts, error, extract(epoch FROM coalesce(finished_at, now()) - started_at) "
            "FROM jobs.runs WHERE run_id = %s",
            run_id,
        )[0]
        if status != "running":
            break
        if time.monotonic() > deadline:
            raise BenchError(f"{job} run {run_id} did not end within {timeout:.0f}s")
        time.sleep(0.1)
    if status != "succeeded":
        raise BenchError(f"{job} ended {status}: {error}")
    return {"counts": counts or {}, "seconds": float(seconds)}


def wait_consumer(mgmt: Management, vhost: str, queue: str, worker: Worker, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while ((mgmt.queue(vhost, queue) or {}).get("consumers") or 0) == 0:
        worker.check()
        if time.monotonic() > deadline:
            raise BenchError(f"no worker consuming {queue} after {timeout:.0f}s")
        time.sleep(0.5)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--licences", type=int, default=20_000, help="water.licences with a NALD copy (default 20,000)")
    p.add_argument("--edited", type=int, default=5_000, help="of them with approved digitise edits (default 5,000)")
    p.add_argument(
        "--conditions",
        type=int,
        default=300_000,
        help="rows in water.licence_version_purpose_conditions (default 300,000)",
    )
    p.add_argument("--stations", type=int, default=2_000, help="water.gauging_stations (default 2,000)")
    p.add_argument("--sample", type=int, default=500, help="licences the legacy baseline copies (default 500)")
    p.add_argument(
        "--legacy-connections",
        type=int,
        default=1,
        help="connections the baseline uses, one licence at a time each (default 1)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="2,000 licences, 500 edited, 30,000 conditions, 200 stations, a sample of 100",
    )
    p.add_argument("--explain", action="store_true", help="also EXPLAIN ANALYZE the jobs' condition query")
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--rabbit", default="amqp://guest:guest@127.0.0.1:5672")
    p.add_argument("--management", default="http://127.0.0.1:15672/api")
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait for a run (default 900)")
    p.add_argument("--keep", action="store_true", help="keep the database, vhost and worker log")
    args = p.parse_args()
    if args.quick:
        args.licences, args.edited, args.conditions, args.stations, args.sample = 2_000, 500, 30_000, 200, 100
    if not (1 <= args.edited <= args.licences // 2) or min(args.stations, args.sample, args.legacy_connections) < 1:
        p.error("need 1 <= --edited <= --licences / 2, and --stations, --sample, --legacy-connections >= 1")
    errors: list[str] = []
    with sandbox(args, "digitise") as box:
        # One process with one thread: each job is a single step, so one thread does all the work.
        env = box.env(WRLS_WORKER_PROCESSES="1", WRLS_WORKER_THREADS="1")
        box.upgrade(env)
        db = box.connect()

        log(
            f"generating {args.licences:,} licences, {args.edited:,} with approved edits, "
            f"{args.conditions:,} condition rows, {args.stations:,} gauging stations"
        )
        started = time.perf_counter()
        generate(db, args)
        generated_s = time.perf_counter() - started
        all_es = [row[0] for row in _rows(db, "SELECT e FROM bench.edited ORDER BY e")]
        plan = Plan(db, all_es)
        sizes = {
            t: scalar(db, f"SELECT count(*) FROM {t}")
            for t in (
                "water.licences",
                "permit.licence",
                "water.licence_version_purpose_conditions",
                "water.gauging_stations",
            )
        }
        log(f"  generated in {generated_s:.1f}s: " + ", ".join(f"{t} {n:,}" for t, n in sizes.items()))
        log(
            f"  plan: {plan.copied:,} licences to copy, {plan.skipped} bad, {plan.items:,} items, "
            f"{plan.links:,} links, {plan.conditions:,} condition rows"
        )

        some = sample(db, args.sample)
        sample_plan = Plan(db, [row[0] for row in some])
        prefix = "{}:{}%".format(
            *_rows(db, "SELECT nald_id, region FROM bench.item WHERE e = %s LIMIT 1", some[0][0])[0]
        )
        like_plan = explain(db, legacy_digitise.NEWEST, (prefix,))
        legacy = {}
        for job in ("links", "lvpc"):
            log(
                f"baseline: the legacy's method ({job}) on {len(some)} licences, "
                f"{args.legacy_connections} connection(s)"
            )
            legacy[job] = baseline(db, box.db_url, some, job, args.legacy_connections)
            log(
                f"  {legacy[job]['seconds']:.1f}s, {legacy[job]['rows']:,} rows, "
                f"{legacy[job]['crashed']} licences crashed"
            )
        if legacy["links"]["rows"] != sample_plan.links:
            errors.append(f"baseline links: {legacy['links']['rows']} rows, plan {sample_plan.links}")
        if legacy["lvpc"]["rows"] != sample_plan.items:
            errors.append(f"baseline LVPC: {legacy['lvpc']['rows']} upserts, plan {sample_plan.items}")
        for job in ("links", "lvpc"):
            if legacy[job]["crashed"] != sample_plan.skipped:
                errors.append(f"baseline {job}: {legacy[job]['crashed']} crashed, plan {sample_plan.skipped} bad")

        job_plans = _job_explains(db) if args.explain else ""
        box.workers.append(Worker("worker", [*CLI, "worker"], env, box.tmp))
        wait_consumer(box.mgmt, box.vhost, "default", box.workers[0])
        ours = {}
        for job in (LINKS_JOB, LVPC_JOB):
            for attempt in ("first", "second"):
                log(f"{job}, {attempt} run")
                ours[job, attempt] = run_job(db, CLI, env, job, box.workers, args.timeout)
                log(f"  {ours[job, attempt]['seconds']:.1f}s {ours[job, attempt]['counts']}")
        table_links = scalar(db, "SELECT count(*) FROM water.licence_gauging_stations WHERE source = 'digitise'")
        table_conditions = scalar(
            db, "SELECT count(*) FROM water.licence_version_purpose_conditions WHERE source = 'digitise'"
        )
        errors += check(ours, plan, table_links, table_conditions)

    report(args, sizes, generated_s, plan, sample_plan, len(some), legacy, ours, like_plan, job_plans)
    for error in errors:
        print(f"WRONG: {error}")
    return 1 if errors else 0


def _rows(db, sql: str, *params) -> list[tuple]:
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _job_explains(db) -> str:
    from wrls_actors.jobs.digitise import edits

    prefixes = [f"{nald_id}:{region}:" for nald_id, region in _rows(db, "SELECT nald_id, region FROM bench.item")]
    # The query's text is a constant of edits.conditions (the job builds it inline); taken from there so the
    # plan shown is the job's own.
    sql = next(c for c in edits.conditions.__code__.co_consts if isinstance(c, str) and "DISTINCT ON" in c)
    return explain(db, sql.replace("%", "%%").replace(":prefixes", "%(prefixes)s"), {"prefixes": prefixes})


def check(ours: dict, plan: Plan, table_links: int, table_conditions: int) -> list[str]:
    want = {
        (LINKS_JOB, "first"): {
            "licences_copied": plan.copied,
            "links_added": plan.links,
            "licences_skipped": plan.skipped,
        },
        (LINKS_JOB, "second"): {"licences_copied": 0, "links_added": 0, "licences_skipped": plan.skipped},
        (LVPC_JOB, "first"): {
            "licences_copied": plan.copied,
            "conditions_added": plan.conditions,
            "conditions_updated": 0,
            "licences_skipped": plan.skipped,
        },
        (LVPC_JOB, "second"): {
            "licences_copied": 0,
            "conditions_added": 0,
            "conditions_updated": 0,
            "licences_skipped": plan.skipped,
        },
    }
    errors = []
    for key, expected in want.items():
        got = {name: (ours[key]["counts"] or {}).get(name, 0) for name in expected}
        if got != expected:
            errors.append(f"{key[0]} {key[1]} run counted {got}, plan {expected}")
    if table_links != plan.links:
        errors.append(f"water.licence_gauging_stations holds {table_links} digitise rows, plan {plan.links}")
    if table_conditions != plan.conditions:
        errors.append(
            f"water.licence_version_purpose_conditions holds {table_conditions} digitise rows, plan {plan.conditions}"
        )
    return errors


def report(args, sizes, generated_s, plan, sample_plan, sampled, legacy, ours, like_plan, job_plans) -> None:
    due = plan.copied + plan.skipped
    print()
    print(
        f"Digitise jobs: {args.licences:,} licences, {due:,} with approved edits ({plan.skipped} bad), "
        f"{plan.items:,} WR22 items; {sizes['water.licence_version_purpose_conditions']:,} condition rows, "
        f"{args.stations:,} gauging stations; generated in {generated_s:.1f}s"
    )
    print(
        f"1 worker process x 1 thread; legacy baseline on {sampled} licences "
        f"({sample_plan.items:,} items), {args.legacy_connections} connection(s), awaited"
    )
    print()
    print(f"  {'':50} {'run s':>8} {'licences/s':>11} {'rows':>8} {'skipped':>8}")
    for job, legacy_key, rows_of in (
        (LINKS_JOB, "links", lambda c: c.get("links_added", 0)),
        (LVPC_JOB, "lvpc", lambda c: c.get("conditions_added", 0) + c.get("conditions_updated", 0)),
    ):
        rates = {}
        for attempt in ("first", "second"):
            r = ours[job, attempt]
            counts = r["counts"] or {}
            handled = counts.get("licences_copied", 0) + counts.get("licences_skipped", 0)
            rate = handled / r["seconds"] if r["seconds"] else 0.0
            rates[attempt] = rate
            print(
                f"  {job + ', ' + attempt + ' run':50} {r['seconds']:8.1f} {rate:11,.0f} {rows_of(counts):8,} "
                f"{counts.get('licences_skipped', 0):8,}"
            )
        b = legacy[legacy_key]
        legacy_rate = b["licences"] / b["seconds"] if b["seconds"] else 0.0
        print(
            f"  {'  legacy method, sample':50} {b['seconds']:8.1f} {legacy_rate:11,.0f} {b['rows']:8,} "
            f"{b['crashed']:8,}"
        )
        print(f"  {'  legacy, extrapolated to all':50} {due / legacy_rate if legacy_rate else 0:8.1f}")
        print(f"  {'  ratio ours/legacy (licences/s)':50} {rates['first'] / legacy_rate if legacy_rate else 0:8.1f}x")
    print()
    print(
        f"  legacy condition lookup (external_id LIKE '{{id}}:{{region}}%', newest), one of "
        f"{sample_plan.items:,} in the sample:"
    )
    print(like_plan)
    if job_plans:
        print("  the jobs' condition query (all prefixes at once):")
        print(job_plans)


if __name__ == "__main__":
    sys.exit(main())
