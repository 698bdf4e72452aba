#!/usr/bin/env python
"""The ledger after a year: what a year of history costs the service, before and after retention.

    .venv/bin/python bench/ledger_scale.py                     # fill a year (~30 min), measure, drop it
    .venv/bin/python bench/ledger_scale.py --keep --fill-only  # fill a year and stop, keeping it
    .venv/bin/python bench/ledger_scale.py --reuse bench_XXXX  # measure on a kept year (retention then drops most)
    .venv/bin/python bench/ledger_scale.py --days 30 --nald-children 5000 --messages 5000   # quick check

1. **Fill.** A fresh database migrated as the service does, then the same
   set-based year of the WRLS app's ledger as ``bench/console.py`` writes
   (every tick of every schedule, each run's steps, the nightly 71,000-child
   nald-import, failures, retries, stalls, events, counters), ending now. The
   weekly partitions the year needs are made first (``make_weeks``), as the
   ledger-retention job would have made them week by week.
2. **Measure, with a year of history.** ``--repeats`` times each, p50/p95:
   - a ``/metrics`` scrape of a real ``wrls-actors exporter`` process;
   - the tracker's query (its window since its last report, and the troubles
     in it), called in this process on the service's ``LedgerView``;
   - ``wrls-actors runs`` as an operator types it, wall time, beside
     ``wrls-actors runs --help`` (the same start-up, no query);
   - full-stack step throughput and the start of its fan-out:
     ``bench/throughput.py --only full`` (``--messages`` no-op children
     through a real worker) on this database, alternated ``--rounds`` times
     with the same on an empty ledger: the ratio of the medians is the
     figure (each round's is printed too).
3. **Retention.** ``ledger-retention``'s work (the runtime's
   ``retain``) with the default 90 days (400 for failures), timed.
4. **Measure again** after it, the same way.

Targets (issue 16): scrape under 100 ms; tracker under 1 s; throughput with a
year of history at least 0.9x that with an empty ledger; retention under
10 s. Exits non-zero if a measurement fails; prints whether each target is
met. See bench/README.md ("Ledger at scale").
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

from api import percentile  # noqa: E402
from console import add_fill_options, fill, ledger_sizes  # noqa: E402
from sandbox import CLI, sandbox  # noqa: E402
from throughput import BenchError, Worker, log, runtime_version  # noqa: E402

from wrls_actors.jobs.tracker.gather import gather, window_ending  # noqa: E402
from wrls_actors.runtime import LedgerView  # noqa: E402
from wrls_actors.runtime.database import engine_for  # noqa: E402
from wrls_actors.runtime.retention import make_weeks  # noqa: E402

SCRAPE_TARGET_MS = 100.0
TRACKER_TARGET_MS = 1000.0
THROUGHPUT_TARGET = 0.9
RETENTION_TARGET_S = 10.0


def timed_ms(call, repeats: int, warm: int = 2) -> tuple[float, float]:
    for _ in range(warm):
        call()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return percentile(times, 50), percentile(times, 95)


def scrape(box, args) -> tuple[float, float, int]:
    """p50/p95 ms of GET /metrics from a real exporter on the database, and the body's size."""
    env = box.env(WRLS_METRICS_PORT=str(args.metrics_port), WRLS_METRICS_HOST="127.0.0.1")
    exporter = Worker("exporter", [*CLI, "exporter"], env, box.tmp)
    box.workers.append(exporter)
    try:
        deadline = time.monotonic() + 60
        while True:
            exporter.check()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", args.metrics_port, timeout=30)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchError("the exporter did not answer /healthz in 60 s")
            time.sleep(0.2)
        size = 0

        def get() -> None:
            nonlocal size
            connection.request("GET", "/metrics")
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise BenchError(f"/metrics answered {response.status}")
            size = len(body)

        connection = http.client.HTTPConnection("127.0.0.1", args.metrics_port, timeout=120)
        p50, p95 = timed_ms(get, args.repeats)
        connection.close()
        return p50, p95, size
    finally:
        exporter.stop(timeout=30)
        box.workers.remove(exporter)


def tracker(box, args) -> tuple[float, float, int]:
    engine = engine_for(box.db_url)
    ledger = LedgerView(engine)
    found = 0

    def query() -> None:
        nonlocal found
        found = len(gather(ledger, window_ending(ledger, datetime.now(UTC))))

    try:
        p50, p95 = timed_ms(query, args.repeats)
    finally:
        engine.dispose()
    return p50, p95, found


def runs_command(box, args) -> tuple[float, float, float]:
    """``wrls-actors runs`` wall ms p50/p95, and ``runs --help`` p50 (Python and the app starting)."""
    env = box.env()

    def command(*extra: str):
        def call() -> None:
            done = subprocess.run([*CLI, "runs", *extra], env=env, cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                raise BenchError(f"wrls-actors runs {' '.join(extra)} exited {done.returncode}: {done.stderr[-500:]}")

        return call

    repeats = max(3, args.repeats // 4)
    p50, p95 = timed_ms(command(), repeats, warm=1)
    start_up, _ = timed_ms(command("--help"), repeats, warm=1)
    return p50, p95, start_up


def throughput(args, database: str | None) -> dict:
    """bench/throughput.py's full-stack phase on ``database`` (None: a new, empty one); its figures."""
    cmd = [sys.executable, str(BENCH / "throughput.py"), "--only", "full", "--messages", str(args.messages), "--json"]
    cmd += ["--postgres", args.postgres, "--management", args.management]
    if database:
        cmd += ["--database", database]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"throughput.py exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])["full"]
    log(
        f"  throughput on {'the year' if database else 'an empty ledger'}: {figures['rate']:.0f} msg/s, "
        f"fan-out of {args.messages:,} published in {figures['publish_s']:.2f} s"
    )
    return figures


def measure(box, args, label: str) -> dict:
    log(f"measuring {label}")
    result: dict = {}
    result["scrape"] = scrape(box, args)
    log(f"  /metrics: p50 {result['scrape'][0]:.1f} ms, p95 {result['scrape'][1]:.1f} ms")
    result["tracker"] = tracker(box, args)
    log(f"  tracker: p50 {result['tracker'][0]:.1f} ms, p95 {result['tracker'][1]:.1f} ms")
    result["runs"] = runs_command(box, args)
    log(f"  wrls-actors runs: p50 {result['runs'][0]:.0f} ms (start-up alone {result['runs'][2]:.0f} ms)")
    # Alternated with an empty ledger, round by round: the machine's other load moves both alike.
    empty, year = [], []
    for _ in range(args.rounds):
        empty.append(throughput(args, None))
        year.append(throughput(args, box.dbname))
    result["empty"] = median_run(empty)
    result["full"] = median_run(year)
    result["ratios"] = [y["rate"] / e["rate"] for e, y in zip(empty, year, strict=True)]
    return result


def median_run(runs: list[dict]) -> dict:
    """The run of median rate (the lower middle one of an even number)."""
    return sorted(runs, key=lambda figures: figures["rate"])[(len(runs) - 1) // 2]


def retention(box, args) -> tuple[float, Any]:
    """One ``retain`` pass, timed, with the pass's own log (each table's checks, archive and drops) printed."""
    from wrls_actors.runtime import retain

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    passing = logging.getLogger("wrls_actors.runtime.retention")
    passing.addHandler(handler)
    passing.setLevel(logging.INFO)
    engine = engine_for(box.db_url)
    try:
        t0 = time.perf_counter()
        # It waits its turn for locks the workers just stopped may still hold, as the job's step does.
        outcome = retain(engine, retention_days=args.retention_days, failure_retention_days=args.failure_days)
        spent = time.perf_counter() - t0
    finally:
        engine.dispose()
        passing.removeHandler(handler)
    log(f"retention: {spent:.2f} s: {outcome.describe()}")
    return spent, outcome


def row(name: str, before: str, after: str, target: str) -> str:
    return f"  {name:<44} {before:>22} {after:>22}  {target}"


def report(args, sizes: tuple, results: dict, retention_s: float) -> int:
    before, after = results["before"], results["after"]

    def ms(pair) -> str:
        return f"{pair[0]:.1f} / {pair[1]:.1f} ms"

    def ratio(result: dict) -> float:
        return result["full"]["rate"] / result["empty"]["rate"]

    print()
    print(f"The ledger after {args.days} days ({runtime_version()})")
    for label, rows in zip(("before retention", "after retention"), sizes, strict=True):
        big = [f"{name} {n:,} rows {size}" for name, n, size in rows if n > 0][:8]
        print(f"  {label}: " + ", ".join(big))
    print(row("", "with a year", "after retention", "target"))
    print(row("/metrics scrape p50 / p95", ms(before["scrape"]), ms(after["scrape"]), f"< {SCRAPE_TARGET_MS:.0f} ms"))
    print(
        row("tracker's query p50 / p95", ms(before["tracker"]), ms(after["tracker"]), f"< {TRACKER_TARGET_MS:.0f} ms")
    )
    print(row("wrls-actors runs p50 / p95 (wall)", ms(before["runs"]), ms(after["runs"]), ""))
    print(row("  of which start-up (runs --help) p50", f"{before['runs'][2]:.0f} ms", f"{after['runs'][2]:.0f} ms", ""))
    print(
        row(
            f"fan-out of {args.messages:,} published",
            f"{before['full']['publish_s']:.2f} s",
            f"{after['full']['publish_s']:.2f} s",
            f"(empty ledger {before['empty']['publish_s']:.2f} / {after['empty']['publish_s']:.2f} s)",
        )
    )
    print(
        row(
            "full-stack steps/s",
            f"{before['full']['rate']:.0f} ({ratio(before):.2f}x)",
            f"{after['full']['rate']:.0f} ({ratio(after):.2f}x)",
            f">= {THROUGHPUT_TARGET}x empty",
        )
    )
    print(
        row(
            "  empty ledger beside it, steps/s",
            f"{before['empty']['rate']:.0f}",
            f"{after['empty']['rate']:.0f}",
            f"medians of {args.rounds} alternated rounds",
        )
    )
    print(
        row(
            "  each round's ratio",
            " ".join(f"{r:.2f}" for r in before["ratios"]),
            " ".join(f"{r:.2f}" for r in after["ratios"]),
            "",
        )
    )
    print(row("ledger-retention", "", f"{retention_s:.2f} s", f"< {RETENTION_TARGET_S:.0f} s"))
    checks = {
        "scrape": max(before["scrape"][1], after["scrape"][1]) < SCRAPE_TARGET_MS,
        "tracker": max(before["tracker"][1], after["tracker"][1]) < TRACKER_TARGET_MS,
        "throughput": min(ratio(before), ratio(after)) >= THROUGHPUT_TARGET,
        "retention": retention_s < RETENTION_TARGET_S,
    }
    print("  targets (p95): " + ", ".join(f"{name} {'met' if ok else 'NOT met'}" for name, ok in checks.items()))
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_fill_options(p)
    p.add_argument("--repeats", type=int, default=20, help="timed scrapes and tracker queries")
    p.add_argument("--messages", type=int, default=20_000, help="no-op children of each throughput run")
    p.add_argument("--rounds", type=int, default=3, help="throughput runs on each ledger, alternated (default 3)")
    p.add_argument("--retention-days", type=int, default=90, help="WRLS_LEDGER_RETENTION_DAYS (default 90)")
    p.add_argument("--failure-days", type=int, default=400, help="WRLS_LEDGER_FAILURE_RETENTION_DAYS (default 400)")
    p.add_argument("--app", default="wrls_actors.app:service")
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--rabbit", default="amqp://guest:guest@127.0.0.1:5672")
    p.add_argument("--management", default="http://127.0.0.1:15672/api")
    p.add_argument("--metrics-port", type=int, default=19191, help="the exporter's port")
    p.add_argument("--keep", action="store_true", help="keep the database (and vhost and logs)")
    p.add_argument("--fill-only", action="store_true", help="fill and stop (with --keep: measure later with --reuse)")
    p.add_argument("--reuse", metavar="NAME", help="measure on a database kept by an earlier run (not filled again)")
    args = p.parse_args()
    for name in ("days", "nald_children", "licence_children", "company_children", "repeats", "messages", "rounds"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.by_hand < 0:
        p.error("--by-hand must be 0 or more")

    with sandbox(args, "ledger-scale") as box:
        db = box.connect()
        box.upgrade(box.env())
        if not box.reused:
            now = datetime.now(UTC)
            # The history's weeks, as the ledger-retention job would have made them week by week.
            make_weeks(engine_for(box.db_url), (now - timedelta(days=args.days + 1)).date(), now.date())
            log(f"filling {args.days} days of ledger ending {now:%Y-%m-%d %H:%M} UTC")
            fill(box.db_url, args, now)
        if args.fill_only:
            log(f"filled: measure it with --reuse {box.dbname}")
            return 0
        sizes_before = ledger_sizes(db)
        results = {"before": measure(box, args, "with a year of history")}
        retention_s, _ = retention(box, args)
        with db.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        sizes_after = ledger_sizes(db)
        results["after"] = measure(box, args, "after retention")
    return report(args, (sizes_before, sizes_after), results, retention_s)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log(f"FAILED: {e}")
        sys.exit(1)
