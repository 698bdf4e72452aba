#!/usr/bin/env python
"""The licence import (companies, then licences) at production scale.

    .venv/bin/python bench/licence_import.py [--licences 71000] [--processes 2] [--threads 8]

In a fresh RabbitMQ vhost and PostgreSQL database (deleted at the end): a
generated extract is loaded into ``import`` with the NALD loader (as a
nald-import leaves it), charging-import-data fills the purposes, then one
``licence-import`` run is timed from the trigger to its end, with each stage
from the run ledger, and a second one over the unchanged extract. Then (unless ``--no-one-offs``) the on-demand
migrations that follow it, charging-import-versions and bill-runs-import,
each run twice: the import, then a re-run over the same data (which must
write nothing). Last (unless ``--no-baseline``), the baseline: the
unchanged licence-import again, by a worker that sends each company and
licence in a message of its own (``WRLS_CHUNK_LIMIT=1``). See bench/README.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

from nald_import import peak_rss_mb, step_times, wait_run  # noqa: E402
from sandbox import CLI, sandbox  # noqa: E402
from throughput import BenchError, Worker, log  # noqa: E402

from wrls_actors.jobs import JOBS  # noqa: E402

PASSWORD = "bench-password"
TARGET_S = 20 * 60
ONE_OFFS = ("charging-import-versions", "bill-runs-import")
# What each one-off's run writes, by the counts of its steps.
WRITTEN = {
    "charging-import-versions": (
        "charge_version_metadata_written",
        "charge_versions_written",
        "charge_elements_written",
    ),
    "bill-runs-import": (
        "bill_runs_written",
        "bills_written",
        "bill_licences_written",
        "transactions_written",
        "volumes_written",
        "charge_version_years_written",
    ),
}
STEPS = {job.name: [step.name for step in job.steps] for job in JOBS if job.name in ONE_OFFS}


def load_import(db_url: str, folder: Path, licences: int) -> float:
    """The extract into schema ``import``, as nald-import's s3-download leaves it."""
    from wrls_actors.jobs.nald_import.archive import InnerArchive, unpack_outer
    from wrls_actors.jobs.nald_import.load import index_and_analyse, load_all
    from wrls_actors.jobs.nald_import.swap import swap_in
    from wrls_actors.tools.nald_synth import write_synthetic_extract

    write_synthetic_extract(folder / "nald_enc.zip", PASSWORD, licences)
    started = time.perf_counter()
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg2://"))
    inner = unpack_outer(folder / "nald_enc.zip", PASSWORD, folder, 2**40)
    with InnerArchive(inner, 2**40) as archive:
        tables = load_all(engine, archive)
    index_and_analyse(engine, tables)
    with engine.begin() as connection:
        swap_in(connection, "bench", max_shrink_percent=None)
    engine.dispose()
    return time.perf_counter() - started


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
        "--no-one-offs",
        dest="one_offs",
        action="store_false",
        help="stop after licence-import (skip charging-import-versions and bill-runs-import)",
    )
    p.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the baseline: the unchanged run again with one item a message (WRLS_CHUNK_LIMIT=1)",
    )
    args = p.parse_args()
    with sandbox(args, "licence") as box:
        env = box.env(WRLS_WORKER_PROCESSES=str(args.processes), WRLS_WORKER_THREADS=str(args.threads))
        box.upgrade(env)
        log(f"loading a generated extract of {args.licences:,} licences into import")
        log(f"  loaded in {load_import(box.db_url, box.tmp, args.licences):.1f}s")

        box.workers.append(Worker("worker", [*CLI, "worker"], env, box.tmp))
        time.sleep(5)
        db = box.connect()
        results = {}
        one_offs = [(job, label) for job in ONE_OFFS for label in (job, f"{job} again")] if args.one_offs else []
        for job, label in [
            ("charging-import-data", "charging-import-data"),
            ("licence-import", "licence-import"),
            ("licence-import", "licence-import again"),  # the same extract: everything read, nothing changed
            *one_offs,
        ]:
            log(label)
            started = time.perf_counter()
            run_id = subprocess.run(
                [*CLI, "trigger", job], env=env, check=True, cwd=ROOT, capture_output=True, text=True
            ).stdout.strip()
            status, counts, failed, error, _ = wait_run(db, run_id, box.workers, args.timeout)
            results[label] = (status, counts, failed, error, time.perf_counter() - started, step_times(db, run_id))
            if status not in ("succeeded", "completed-with-failures"):
                raise BenchError(f"{job} ended {status}: {error}")
        rss_mb = peak_rss_mb(box.workers[0])
        if args.baseline:
            # The same unchanged run by a worker that sends each company and licence alone, as before chunks.
            box.workers[0].stop()
            box.workers.append(Worker("worker-one-item", [*CLI, "worker"], {**env, "WRLS_CHUNK_LIMIT": "1"}, box.tmp))
            time.sleep(5)
            label = "licence-import again, one item a message"
            log(label)
            started = time.perf_counter()
            run_id = subprocess.run(
                [*CLI, "trigger", "licence-import"], env=env, check=True, cwd=ROOT, capture_output=True, text=True
            ).stdout.strip()
            status, counts, failed, error, _ = wait_run(db, run_id, box.workers[1:], args.timeout)
            results[label] = (status, counts, failed, error, time.perf_counter() - started, step_times(db, run_id))
            if status not in ("succeeded", "completed-with-failures"):
                raise BenchError(f"licence-import (one item a message) ended {status}: {error}")

    print()
    print(f"Licence import of {args.licences:,} licences, {args.processes} worker processes x {args.threads} threads")
    _, counts, failed, _, seconds, steps = results["charging-import-data"]
    print(f"  charging-import-data (before)  {seconds:8.1f} s")
    status, counts, failed, _, seconds, steps = results["licence-import"]
    print(
        f"  licence-import, trigger to end {seconds:8.1f} s   {status}, {failed} children failed; "
        f"target < {TARGET_S} s: {'met' if seconds < TARGET_S else 'NOT met'}"
    )
    for actor in (
        "wait-for-nald",
        "delete-removed-documents",
        "import-purpose-condition-types",
        "queue-companies",
        "import-company",
        "queue-licences",
        "import-licence",
    ):
        print(f"    {actor:30} {steps.get(f'licence-import.{actor}', 0.0):8.1f} s")
    again_status, _, _, _, again_s, _ = results["licence-import again"]
    print(f"  again, unchanged extract       {again_s:8.1f} s   {again_status}")
    if args.baseline:
        one_status, _, _, _, one_s, one_steps = results["licence-import again, one item a message"]
        print(
            f"  {'baseline, one item a message':30} {one_s:8.1f} s   {one_status}; chunks of 100 are "
            f"{one_s / again_s:.1f}x faster (companies {one_steps.get('licence-import.import-company', 0.0):.1f} s, "
            f"licences {one_steps.get('licence-import.import-licence', 0.0):.1f} s)"
        )
    companies, licences = counts.get("companies_imported", 0), counts.get("licences_imported", 0)
    company_s = steps.get("licence-import.import-company") or 0
    licence_s = steps.get("licence-import.import-licence") or 0
    print(f"  companies imported             {companies:>8,}  {companies / company_s if company_s else 0:6.0f} /s")
    print(f"  licences imported              {licences:>8,}  {licences / licence_s if licence_s else 0:6.0f} /s")
    for job in ONE_OFFS if args.one_offs else ():
        for label in (job, f"{job} again"):
            status, counts, _, _, seconds, steps = results[label]
            print(f"  {label:30} {seconds:8.1f} s   {status}")
            for step in STEPS[job]:
                print(f"    {step:28} {steps.get(f'{job}.{step}', 0.0):8.1f} s")
            print("    " + ", ".join(f"{name} {counts.get(name, 0):,}" for name in WRITTEN[job]))
    print(f"  peak memory of a worker        {rss_mb:8.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
