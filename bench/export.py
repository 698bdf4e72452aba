#!/usr/bin/env python
"""The export job on a database filled by nald-import and licence-import, against psql | gzip.

    .venv/bin/python bench/export.py [--licences 71000] [--processes 2] [--threads 4]

In a fresh RabbitMQ vhost and PostgreSQL database (deleted at the end), with
a moto S3 server standing in for the bucket:

1. fill: a generated NALD extract of ``--licences`` licences, then
   ``nald-import``, ``charging-import-data`` and ``licence-import`` on a worker
   of their own (stopped after), plus a small ``idm.users`` (the model has no
   idm table, and the legacy's export fails a schema without tables);
   ``VACUUM ANALYZE`` so neither side pays for setting hint bits;
2. baseline: for every base table of the six schemas, one after another,
   ``psql -c "\\copy (SELECT * FROM ...) TO STDOUT WITH (FORMAT csv, HEADER)" | gzip``
   into a file;
3. export: a fresh worker and one ``export`` run, trigger to end, with the
   worker's peak memory (VmHWM of its processes).

Prints both times and their ratio (target at most 1.2x), the bytes each wrote,
and the peak memory (target under 200 MB). See bench/README.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

from nald_import import PASSWORD, peak_rss_mb, step_times, wait_run  # noqa: E402
from sandbox import CLI, sandbox  # noqa: E402
from throughput import BenchError, Worker, log  # noqa: E402

from tests.support.s3 import CREDENTIALS, S3Server  # noqa: E402
from wrls_actors.jobs.export.store import SCHEMAS  # noqa: E402

TARGET_RATIO = 1.2
TARGET_MB = 200
BUCKET = "bench-export"


def fill(box, env: dict[str, str], args) -> dict[str, float]:
    extract = box.tmp / "bucket" / "wal_nald_data_release" / "nald_enc.zip"
    extract.parent.mkdir(parents=True)
    log(f"generating {args.licences:,} licences")
    subprocess.run(
        [*CLI, "nald", "synth", "--licences", str(args.licences), "--out", str(extract)], env=env, check=True, cwd=ROOT
    )
    worker = Worker(
        "fill-worker", [*CLI, "worker"], {**env, "WRLS_WORKER_PROCESSES": "2", "WRLS_WORKER_THREADS": "8"}, box.tmp
    )
    box.workers.append(worker)
    time.sleep(5)
    db = box.connect()
    took = {}
    for job in ("nald-import", "charging-import-data", "licence-import"):
        log(f"fill: {job}")
        started = time.perf_counter()
        run_id = subprocess.run(
            [*CLI, "trigger", job], env=env, check=True, cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        status, _, failed, error, _ = wait_run(db, run_id, [worker], args.timeout)
        if status not in ("succeeded", "completed-with-failures"):
            raise BenchError(f"{job} ended {status}: {error}")
        took[job] = time.perf_counter() - started
        log(f"  {status} in {took[job]:.0f}s ({failed} children failed)")
    worker.stop()
    box.workers.remove(worker)
    with db.cursor() as cursor:
        cursor.execute("CREATE SCHEMA idm")
        cursor.execute(
            "CREATE TABLE idm.users (user_id serial PRIMARY KEY, user_name varchar NOT NULL, "
            "reset_guid uuid, user_data jsonb, last_login timestamp, enabled boolean)"
        )
        cursor.execute(
            "INSERT INTO idm.users (user_name, reset_guid, user_data, last_login, enabled) "
            "SELECT 'user' || n || '@example.com', md5(n::text)::uuid, jsonb_build_object('n', n), "
            "now() - n * interval '1 hour', n %% 7 <> 0 FROM generate_series(1, %s) n",
            (max(args.licences // 10, 1),),
        )
        cursor.execute("VACUUM ANALYZE")
    return took


def tables(db) -> list[tuple[str, str]]:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE' ORDER BY 1, 2",
            (list(SCHEMAS),),
        )
        return cursor.fetchall()


def baseline(db_url: str, names: list[tuple[str, str]], folder: Path) -> tuple[float, int]:
    """psql's \\copy of each table piped into gzip (its default level, 6), one table after another."""
    folder.mkdir()
    started = time.perf_counter()
    for schema, table in names:
        out = folder / f"{schema}.{table}.csv.gz"
        with out.open("wb") as f:
            psql = subprocess.Popen(
                [
                    "psql",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    db_url,
                    "-c",
                    f'\\copy (SELECT * FROM "{schema}"."{table}") TO STDOUT WITH (FORMAT csv, HEADER)',
                ],
                stdout=subprocess.PIPE,
            )
            gzip = subprocess.run(["gzip", "-c"], stdin=psql.stdout, stdout=f)
            psql.stdout.close()
            if psql.wait() or gzip.returncode:
                raise BenchError(f"baseline of {schema}.{table} failed")
    seconds = time.perf_counter() - started
    return seconds, sum(p.stat().st_size for p in folder.iterdir())


def check_tarballs(s3, names: list[tuple[str, str]], folder: Path) -> int:
    """Every tarball whole, with one member per table; returns the CSV bytes they hold."""
    size = 0
    for schema in SCHEMAS:
        path = folder / f"{schema}.tgz"
        s3.client().download_file(BUCKET, f"export/{schema}.tgz", str(path))
        with tarfile.open(path) as tar:
            members = sorted(m.name for m in tar.getmembers())
            size += sum(m.size for m in tar.getmembers())
        expected = sorted(f"{schema}/{t}.csv" for s, t in names if s == schema)
        if members != expected:
            raise BenchError(f"export/{schema}.tgz holds {members}, not {expected}")
        path.unlink()
    return size


def finished_at(db, run_id: str) -> float:
    """When the ledger says the run ended (same machine, same clock): wait_run looks once a second."""
    with db.cursor() as cursor:
        cursor.execute("SELECT extract(epoch FROM finished_at) FROM jobs.runs WHERE run_id = %s", (run_id,))
        return float(cursor.fetchone()[0])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--licences", type=int, default=71_000)
    p.add_argument("--processes", type=int, default=2, help="export worker processes")
    p.add_argument("--threads", type=int, default=4, help="export worker threads per process")
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--rabbit", default="amqp://guest:guest@127.0.0.1:5672")
    p.add_argument("--management", default="http://127.0.0.1:15672/api")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--keep", action="store_true", help="keep the database, vhost and files")
    args = p.parse_args()
    with sandbox(args, "export") as box:
        s3 = S3Server(box.tmp / "moto.log")
        try:
            s3.client().create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
            env = box.env(
                WRLS_NALD_LOCAL_DIR=str(box.tmp / "bucket"),
                WRLS_NALD_ZIP_PASSWORD=PASSWORD,
                WRLS_WORK_DIR=str(box.tmp / "work"),
                WRLS_S3_ENDPOINT_URL=s3.endpoint,
                WRLS_EXPORT_BUCKET=BUCKET,
                **CREDENTIALS,
            )
            box.upgrade(env)
            filled = fill(box, env, args)
            db = box.connect()
            names = tables(db)

            log(f"baseline: psql \\copy | gzip of {len(names)} tables")
            baseline_s, baseline_bytes = baseline(box.db_url, names, box.tmp / "baseline")
            log(f"  {baseline_s:.1f}s, {baseline_bytes / 1e6:.1f} MB")

            worker = Worker(
                "export-worker",
                [*CLI, "worker"],
                {**env, "WRLS_WORKER_PROCESSES": str(args.processes), "WRLS_WORKER_THREADS": str(args.threads)},
                box.tmp,
            )
            box.workers.append(worker)
            time.sleep(5)
            log("export")
            started = time.time()
            run_id = subprocess.run(
                [*CLI, "trigger", "export"], env=env, check=True, cwd=ROOT, capture_output=True, text=True
            ).stdout.strip()
            status, counts, failed, error, _ = wait_run(db, run_id, [worker], args.timeout)
            export_s = finished_at(db, run_id) - started
            steps = step_times(db, run_id)
            rss_mb = peak_rss_mb(worker)
            if status != "succeeded":
                raise BenchError(f"export ended {status}: {error} ({failed} schemas failed)")
            tar_csv_bytes = check_tarballs(s3, names, box.tmp)
        finally:
            s3.stop()

    ratio = export_s / baseline_s
    print()
    print(
        f"Export of a database filled with {args.licences:,} licences, {args.processes} worker processes x "
        f"{args.threads} threads"
    )
    print("  fill (not timed against anything): " + ", ".join(f"{job} {s:.0f}s" for job, s in filled.items()))
    print(
        f"  tables {counts['tables_exported']:,}, rows {counts['rows_exported']:,}, "
        f"CSV {counts['csv_bytes'] / 1e6:.1f} MB (in the tarballs: {tar_csv_bytes / 1e6:.1f} MB)"
    )
    print(
        f"  export, trigger to end         {export_s:8.1f} s   {counts['tgz_bytes'] / 1e6:.1f} MB of tgz in "
        f"{counts['parts_uploaded']} parts"
    )
    for actor in ("queue-schemas", "export-schema", "report"):
        print(f"    {actor:28} {steps.get(f'export.{actor}', 0.0):8.1f} s")
    print(f"  psql \\copy | gzip, same tables {baseline_s:8.1f} s   {baseline_bytes / 1e6:.1f} MB of gzip")
    print(
        f"  export / baseline              {ratio:8.2f}x  target at most {TARGET_RATIO}x: "
        f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}"
    )
    print(
        f"  peak memory of a worker        {rss_mb:8.0f} MB  target under {TARGET_MB} MB: "
        f"{'met' if rss_mb < TARGET_MB else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
