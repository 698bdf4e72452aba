#!/usr/bin/env python
"""The whole NALD import at production scale, and its CSV load against plain psql.

    .venv/bin/python bench/nald_import.py [--licences 71000] [--processes 2] [--threads 8]

In one run, in a fresh RabbitMQ vhost and PostgreSQL database (deleted at the end):

1. generate  ``wrls-actors nald synth``'s extract of N licences (seed 1), in a
             local folder that stands in for the bucket (WRLS_NALD_LOCAL_DIR);
2. baseline  the same CSV files, unpacked to disk, loaded with one
             ``psql -v ON_ERROR_STOP=1`` ``\\copy`` per file into a scratch
             schema (what the legacy ran, minus its indexes);
3. import    worker processes of the WRLS app and one ``nald-import`` run,
             timed from the trigger to the end of the run, with each step's
             time from the run ledger and the load phase from the run's counts;
4. again     the same extract imported again (forced past its ETag): timed,
             and the rows it wrote again counted (none, if the upserts hold);
5. baseline  (unless ``--no-baseline``) that again by a worker that sends
             each licence in a message of its own (``WRLS_CHUNK_LIMIT=1``),
             as before chunked fan-outs.

``--decrypt-only`` (no database, no RabbitMQ): the extract's ``NALD.zip``
decrypted out of the same archive, under ZipCrypto and under AES, by the
importer's path (``unpack_outer``) and by pyzipper (the path it replaced), in
MB/s, and their ratio.

See bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pyzipper

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

from sandbox import CLI, sandbox  # noqa: E402
from throughput import BenchError, Worker, log  # noqa: E402

PASSWORD = "bench-password"  # protects a synthetic extract, and is only ever in this process's environment
TARGET_S = 15 * 60
TARGET_AGAIN_S = 2 * 60
TARGET_LOAD_RATIO = 1.5
LEGACY_POLLING_S = 10  # pg-boss polled every 10 s per batch of 75 licences


def unpack(extract: Path, folder: Path) -> list[Path]:
    """The CSV files of the extract on disk, for psql (not timed)."""
    with pyzipper.AESZipFile(extract) as outer:
        outer.setpassword(PASSWORD.encode())
        outer.extract("NALD.zip", folder)
    with zipfile.ZipFile(folder / "NALD.zip") as inner:
        inner.extractall(folder / "csv")
    (folder / "NALD.zip").unlink()
    return sorted(p for p in (folder / "csv").glob("*.txt") if "_AUDIT" not in p.name)


def psql_baseline(db_url: str, files: list[Path]) -> float:
    """One psql per file, as the legacy did: CREATE TABLE from the header, then \\copy."""
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", db_url, "-c", "CREATE SCHEMA baseline"], check=True)
    started = time.perf_counter()
    for path in files:
        with path.open(newline="") as f:
            header = next(csv.reader(io.StringIO(f.readline())))
        table = f'baseline."{path.stem}"'
        columns = ", ".join('"' + c + '" varchar' for c in header)
        script = f"CREATE TABLE {table} ({columns});\n\\copy {table} FROM '{path}' WITH (FORMAT csv, HEADER true)\n"
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", db_url], input=script.encode(), check=True)
    return time.perf_counter() - started


def wait_run(db, run_id: str, worker_list: list[Worker], timeout_s: float):
    deadline = time.monotonic() + timeout_s
    last = 0.0
    while time.monotonic() < deadline:
        for worker in worker_list:
            worker.check()
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT status, counts, children_failed, error, "
                "extract(epoch FROM coalesce(finished_at, now()) - started_at) "
                "FROM jobs.runs WHERE run_id = %s",
                (run_id,),
            )
            status, counts, failed, error, seconds = cursor.fetchone()
        if status != "running":
            return status, counts, failed, error, float(seconds)
        if time.monotonic() - last > 30:
            with db.cursor() as cursor:
                cursor.execute(
                    "SELECT coalesce(sum(arrived), 0), coalesce(sum(expected), 0) FROM jobs.barriers WHERE run_id = %s",
                    (run_id,),
                )
                arrived, expected = cursor.fetchone()
            log(f"  {seconds:.0f}s: {arrived} of {expected or '?'} licences")
            last = time.monotonic()
        time.sleep(1)
    raise BenchError(f"run {run_id} did not end within {timeout_s:.0f}s")


def peak_rss_mb(worker: Worker) -> float:
    """Highest peak resident memory among the worker's processes (VmHWM), in MB."""
    peaks = []
    for pid in subprocess.run(["pgrep", "-g", str(worker.pid)], capture_output=True, text=True).stdout.split():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
    return max(peaks, default=0.0)


def step_times(db, run_id: str) -> dict[str, float]:
    """Seconds from each actor's first start to its last end in the run. A fan-out child that succeeded at
    once keeps no step row: its start and end are its arrival's, named by its fan-out step's child."""
    from wrls_actors.jobs import JOBS

    with db.cursor() as cursor:
        cursor.execute(
            "SELECT actor, min(started_at), max(finished_at) FROM jobs.steps WHERE run_id = %s GROUP BY actor",
            (run_id,),
        )
        spans = {actor: (started, finished) for actor, started, finished in cursor.fetchall()}
        cursor.execute(
            "SELECT r.job, a.step_index, min(a.started_at), max(a.arrived_at) FROM jobs.barrier_arrivals a "
            "JOIN jobs.runs r ON r.run_id = a.run_id AND r.started_at = a.run_started_at "
            "WHERE a.run_id = %s GROUP BY r.job, a.step_index",
            (run_id,),
        )
        jobs = {job.name: job for job in JOBS}
        for job_name, index, started, arrived in cursor.fetchall():
            job = jobs.get(job_name)
            fan_out = job.steps[index].fan_out if job is not None and index < len(job.steps) else None
            if fan_out is None:
                continue
            actor = job.actor_name(fan_out)
            first, last = spans.get(actor, (None, None))
            spans[actor] = (
                min((t for t in (first, started) if t), default=None),
                max((t for t in (last, arrived) if t), default=None),
            )
    return {
        actor: (finished - started).total_seconds()
        for actor, (started, finished) in spans.items()
        if started and finished
    }


def _pyzipper_unpack(archive: Path, folder: Path) -> Path:
    """The replaced path: pyzipper's reader, the member streamed to disk as unpack_outer does."""
    target = folder / "NALD.zip"
    with (
        pyzipper.AESZipFile(archive) as outer,
        outer.open("NALD.zip", pwd=PASSWORD.encode()) as source,
        target.open("wb") as out,
    ):
        while chunk := source.read(1 << 20):
            out.write(chunk)
    return target


def _rate(unpack, archive: Path, folder: Path, expected: bytes, repeat: int) -> float:
    """MB/s of the archive's member (its encrypted bytes) through ``unpack``, best of ``repeat``; checked."""
    with zipfile.ZipFile(archive) as outer:
        size = outer.getinfo("NALD.zip").compress_size
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        target = unpack(archive, folder)
        best = min(best, time.perf_counter() - started)
        if target.read_bytes() != expected:
            raise BenchError(f"{unpack.__name__} did not give back NALD.zip from {archive.name}")
        target.unlink()
    return size / best / 1e6


def decrypt_only(args) -> int:
    from tests.support.zipcrypto import write_zipcrypto
    from wrls_actors.jobs.nald_import.archive import unpack_outer
    from wrls_actors.tools.nald_synth import write_synthetic_extract

    def importer(archive: Path, folder: Path) -> Path:
        return unpack_outer(archive, PASSWORD, folder, 1 << 40)

    with tempfile.TemporaryDirectory(prefix="bench-decrypt-") as tmp:
        folder = Path(tmp)
        aes = folder / "aes.zip"
        log(f"generating {args.licences:,} licences")
        write_synthetic_extract(aes, PASSWORD, args.licences, 1)
        with pyzipper.AESZipFile(aes) as outer:
            inner = outer.read("NALD.zip", pwd=PASSWORD.encode())
        # What zip tools write by default: deflated, ZipCrypto. Written in Python (as slow as reading it).
        log(f"encrypting {len(inner) / 1e6:.1f} MB of NALD.zip under ZipCrypto")
        zipcrypto = folder / "zipcrypto.zip"
        write_zipcrypto(zipcrypto, "NALD.zip", inner, PASSWORD.encode(), deflate=True)
        (folder / "out").mkdir()
        print()
        print(f"Decrypting NALD.zip of {args.licences:,} licences ({len(inner) / 1e6:.1f} MB), MB/s of encrypted bytes")
        # pyzipper's ZipCrypto takes as long as writing it did: once is enough.
        for name, archive, repeat in (("ZipCrypto, deflated", zipcrypto, 1), ("AES-256, stored", aes, 3)):
            new = _rate(importer, archive, folder / "out", inner, 3)
            old = _rate(_pyzipper_unpack, archive, folder / "out", inner, repeat)
            print(f"  {name:20} importer {new:8.1f} MB/s   pyzipper {old:8.1f} MB/s   = {new / old:5.1f}x")
    return 0


def forced_again(db, env: dict[str, str], workers: list, args) -> tuple[str, dict, str | None, float, int]:
    """One nald-import of the extract already imported, forced past its ETag: (status, counts, error,
    seconds from the trigger to the end, rows it wrote again)."""
    started = time.perf_counter()
    run_id = subprocess.run(
        [*CLI, "trigger", "nald-import", "--param", "force=true"],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    status, counts, _, error, _ = wait_run(db, run_id, workers, args.timeout)
    seconds = time.perf_counter() - started
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM permit.licence WHERE date_updated > r.started_at) "
            "+ (SELECT count(*) FROM crm.document_header WHERE date_updated > r.started_at) "
            "+ (SELECT count(*) FROM returns.returns WHERE updated_at > r.started_at) "
            "FROM jobs.runs r WHERE r.run_id = %s",
            (run_id,),
        )
        (rewritten,) = cursor.fetchone()
    return status, counts, error, seconds, rewritten


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--licences", type=int, default=71_000)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--rabbit", default="amqp://guest:guest@127.0.0.1:5672")
    p.add_argument("--management", default="http://127.0.0.1:15672/api")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--keep", action="store_true", help="keep the database, vhost and files")
    p.add_argument(
        "--vacuum-between",
        action="store_true",
        help="VACUUM ANALYZE the written tables before the unchanged rerun (for a PostgreSQL without autovacuum)",
    )
    p.add_argument(
        "--decrypt-only",
        action="store_true",
        help="only measure decrypting NALD.zip (ZipCrypto and AES), the importer's path against pyzipper's",
    )
    p.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the baseline: the unchanged import again with one licence a message (WRLS_CHUNK_LIMIT=1)",
    )
    args = p.parse_args()
    if args.decrypt_only:
        return decrypt_only(args)
    with sandbox(args, "nald") as box:
        tmp = box.tmp
        env = box.env(
            WRLS_NALD_LOCAL_DIR=str(tmp / "bucket"),
            WRLS_NALD_ZIP_PASSWORD=PASSWORD,
            WRLS_WORK_DIR=str(tmp / "work"),
            WRLS_WORKER_PROCESSES=str(args.processes),
            WRLS_WORKER_THREADS=str(args.threads),
        )

        extract = tmp / "bucket" / "wal_nald_data_release" / "nald_enc.zip"
        extract.parent.mkdir(parents=True)
        log(f"generating {args.licences:,} licences")
        started = time.perf_counter()
        subprocess.run(
            [*CLI, "nald", "synth", "--licences", str(args.licences), "--out", str(extract)],
            env=env,
            check=True,
            cwd=ROOT,
        )
        log(f"  generated in {time.perf_counter() - started:.1f}s, {extract.stat().st_size / 1e6:.1f} MB")
        box.upgrade(env)

        files = unpack(extract, tmp / "plain")
        csv_bytes = sum(f.stat().st_size for f in files)
        log(f"baseline: psql \\copy of {len(files)} files, {csv_bytes / 1e6:.0f} MB")
        baseline_s = psql_baseline(box.db_url, files)
        log(f"  {baseline_s:.1f}s")

        box.workers.append(Worker("worker", [*CLI, "worker"], env, tmp))
        time.sleep(5)
        log("nald-import")
        started = time.perf_counter()
        run_id = subprocess.run(
            [*CLI, "trigger", "nald-import"], env=env, check=True, cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        db = box.connect()
        status, counts, failed, error, run_s = wait_run(db, run_id, box.workers, args.timeout)
        wall_s = time.perf_counter() - started
        steps = step_times(db, run_id)
        vacuum_s = None
        if status == "succeeded" and args.vacuum_between:
            # What autovacuum would have done by the next night, where it runs.
            log("VACUUM ANALYZE of the tables the import wrote")
            vacuum_started = time.perf_counter()
            with db.cursor() as cursor:
                cursor.execute(
                    "VACUUM ANALYZE permit.licence, crm.document_header, returns.returns, returns.return_cycles"
                )
            vacuum_s = time.perf_counter() - vacuum_started
        if status == "succeeded":
            # The same extract again, forced past its ETag: every licence read and built again, nothing written.
            log("nald-import again, unchanged extract, force=true")
            again_status, again_counts, again_error, again_s, rewritten = forced_again(db, env, box.workers, args)
        rss_mb = peak_rss_mb(box.workers[0])
        one_item = None
        if status == "succeeded" and args.baseline:
            # The baseline: the same again by a worker that sends each licence in a message of its own.
            box.workers[0].stop()
            box.workers.append(Worker("worker-one-item", [*CLI, "worker"], {**env, "WRLS_CHUNK_LIMIT": "1"}, tmp))
            time.sleep(5)
            log("nald-import again, one licence a message (WRLS_CHUNK_LIMIT=1)")
            one_item = forced_again(db, env, box.workers[1:], args)

    if status != "succeeded":
        raise BenchError(f"run ended {status}: {error} ({failed} licences failed)")
    load_s = counts["load_ms"] / 1000
    imported = counts.get("licences_imported", 0)
    fan_out_s = steps.get("nald-import.import-licence", 0.0)
    print()
    print(f"NALD import of {args.licences:,} licences, {args.processes} worker processes x {args.threads} threads")
    print(
        f"  whole run (trigger to end)     {wall_s:8.1f} s   target < {TARGET_S} s: "
        f"{'met' if wall_s < TARGET_S else 'NOT met'}"
    )
    for actor in (
        "nald-import.s3-download",
        "nald-import.delete-removed-documents",
        "nald-import.queue-licences",
        "nald-import.import-licence",
    ):
        print(f"  {actor.split('.', 1)[1]:30} {steps.get(actor, 0.0):8.1f} s")
    for part in ("download", "decrypt", "load", "index", "swap"):
        print(f"    s3-download: {part:16} {counts.get(f'{part}_ms', 0) / 1000:8.1f} s")
    print(f"  rows loaded                    {counts['rows_loaded']:>10,} in {counts['tables_loaded']} tables")
    print(
        f"  CSV load vs psql \\copy         {load_s:8.1f} s vs {baseline_s:.1f} s = {load_s / baseline_s:.2f}x   "
        f"target <= {TARGET_LOAD_RATIO}x: {'met' if load_s / baseline_s <= TARGET_LOAD_RATIO else 'NOT met'}"
    )
    print(
        f"  licences imported / skipped    {imported:,} / {counts.get('licences_skipped', 0):,}, "
        f"{failed} failed; {counts.get('returns', 0):,} returns"
    )
    print(f"  import-licence fan-out         {imported / fan_out_s if fan_out_s else 0:8.0f} licences/s")
    if vacuum_s is not None:
        print(f"  VACUUM ANALYZE before it       {vacuum_s:8.1f} s")
    print(
        f"  again, unchanged, forced       {again_s:8.1f} s   target < {TARGET_AGAIN_S} s: "
        f"{'met' if again_s < TARGET_AGAIN_S and again_status == 'succeeded' else 'NOT met'}; "
        f"{again_status}{': ' + again_error if again_error else ''}, "
        f"{again_counts.get('licences_imported', 0):,} licences read, {rewritten:,} rows written again"
    )
    if one_item is not None:
        one_status, _, one_error, one_s, _ = one_item
        print(
            f"  {'baseline, one licence a message':30} {one_s:8.1f} s   {one_status}"
            f"{': ' + one_error if one_error else ''}; chunks of 100 are {one_s / again_s:.1f}x faster"
        )
    print(f"  peak memory of a worker        {rss_mb:8.0f} MB (VmHWM; the extract is {csv_bytes / 1e6:.0f} MB of CSV)")
    legacy_s = args.licences / 75 * LEGACY_POLLING_S
    print(
        f"  legacy polling waits alone     {legacy_s:8.0f} s (computed: {args.licences:,} / 75 x 10 s) "
        f"= {legacy_s / wall_s:.0f}x this whole run"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
