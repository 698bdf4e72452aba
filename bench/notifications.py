#!/usr/bin/env python
"""send-message at GOV.UK Notify's rate limit: due notifications through a fake Notify.

    .venv/bin/python bench/notifications.py [--messages 10000] [--limit 3000] [--window 60] [--workers 2]
    .venv/bin/python bench/notifications.py --messages 2000 --limit 1200     # quick check (~2 min)

In a fresh RabbitMQ vhost and PostgreSQL database (deleted at the end, also
after a failure or Ctrl-C; ``--keep`` keeps them and the logs):

1. The fake Notify of the tests (tests/support/notify.py) runs in this
   process with ``rate_limit=(limit, window)``: it answers 429 to a send
   past ``limit`` in any ``window`` seconds, and records every request with
   its arrival time. The workers get the same figures
   (``WRLS_NOTIFY_RATE_LIMIT``, ``WRLS_NOTIFY_RATE_WINDOW_S``).
2. ``--messages`` due ``water.scheduled_notification`` rows of one event
   (status ``sending``; 70% emails, 20% template letters, 10% precompiled
   letters).
3. Baseline: the legacy's method (bench/legacy_send.py: every 15 s up to 100
   rows sent at once, no claim, no throttle) for ``--legacy-ticks`` ticks on
   rows of another event, against a second fake with the same limit.
4. ``--workers`` real workers (the WRLS app) and a real scheduler, every
   schedule but send-message switched off, so the minute ticks drive it as in
   production; and, unless ``--no-message``, a ``start-job`` message for the
   event, as the service sends when a notice is sent.
5. Timed from the first send Notify accepted to the last: the achieved rate
   per window, the most sends in any sliding window (every send attempt
   counted, refused or not), 429s, the largest pause between sends, and that
   every row was sent exactly once (``sent`` with the notify_id of the one
   notification Notify has for its reference).

Exit code 1 if a row was sent twice or not at all, or the limit was exceeded
(a 429, or more than ``limit`` attempts in a window); reaching 95% of the
limit is reported, not enforced. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pika
import psycopg2
from notifications_python_client.notifications import NotificationsAPIClient

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

from legacy_send import BATCH, TICK_S, run_legacy  # noqa: E402
from sandbox import CLI, sandbox  # noqa: E402
from throughput import BenchError, Probe, Worker, log, runtime_version  # noqa: E402

from tests.support.notify import SENDS, FakeNotify  # noqa: E402
from wrls_actors.jobs.send_message.send import SEND_FOR_S  # noqa: E402
from wrls_actors.schedules import SCHEDULES  # noqa: E402

JOB = "send-message"
TARGET = 0.95
EMAIL_TEMPLATE = "2fa7fc83-4df1-4f52-bccf-ff0faeb12b6f"
PDF = b"%PDF-1.4\n% a paper return form\n"
UUID_AT_END = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")

# Oldest first, all due and inside the legacy's week; the same mix as the notices make.
ROWS = """
INSERT INTO water.scheduled_notification (event_id, status, message_type, recipient, template_id, message_ref,
                                          personalisation, pdf, send_after)
SELECT %(event)s, 'sending',
       CASE WHEN mod(i, 10) < 7 THEN 'email' ELSE 'letter' END,
       CASE WHEN mod(i, 10) < 7 THEN 'holder' || i || '@example.com' ELSE 'n/a' END,
       CASE WHEN mod(i, 10) < 7 THEN %(template)s END,
       CASE WHEN mod(i, 10) < 7 THEN NULL WHEN mod(i, 10) < 9 THEN 'returns_invitation_licence_holder_letter'
            ELSE 'pdf.return_form' END,
       CASE WHEN mod(i, 10) < 7 THEN jsonb_build_object('name', 'Holder ' || i, 'returnDueDate', '28 April 2025')
            ELSE jsonb_build_object('address_line_1', 'Farm House ' || i, 'address_line_2', 'Lane End',
                                    'postcode', 'AB1 2CD') END,
       CASE WHEN mod(i, 10) = 9 THEN %(pdf)s END,
       now() - interval '1 minute' - make_interval(secs => (%(n)s - i) / 1000.0)
FROM generate_series(1, %(n)s) i
"""
EVENT = """
INSERT INTO water.events (event_id, reference_code, type, subtype, issuer, metadata, status, created)
VALUES (%s, %s, 'notification', 'returnInvitation', 'bench@example.gov.uk', %s, 'sending', now())
"""


# -- figures ------------------------------------------------------------------------------------------------


def max_in_window(times: list[float], window: float) -> tuple[int, float]:
    """The most times in any (t - window, t] (how the fake counts), and the t where it is reached."""
    best, at, j = 0, times[0] if times else 0.0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        if i - j + 1 > best:
            best, at = i - j + 1, t
    return best, at


def largest_gap(times: list[float]) -> tuple[float, float]:
    """The longest pause between consecutive times, and when it began."""
    gaps = [(b - a, a) for a, b in pairwise(times)]
    return max(gaps, default=(0.0, times[0] if times else 0.0))


def per_window(times: list[float], window: float) -> list[int]:
    """Sends in each window-long slice from the first send."""
    if not times:
        return []
    counts = Counter(int((t - times[0]) // window) for t in times)
    return [counts.get(k, 0) for k in range(max(counts) + 1)]


def reference_id(reference: str | None) -> str | None:
    # A precompiled letter's reference is "<address_line_1> <row id>" (the legacy's), the others the row id.
    match = UUID_AT_END.search(reference or "")
    return match.group(1) if match else None


def send_attempts(notify: FakeNotify) -> list:
    return sorted((r for r in notify.received("POST") if r.path in SENDS), key=lambda r: r.at)


class Figures:
    """What one fake saw: accepted sends, refusals, and the rate over the accepted ones."""

    def __init__(self, notify: FakeNotify, window: float) -> None:
        attempts = send_attempts(notify)
        self.attempt_times = [r.at for r in attempts]
        self.accepted = [r.at for r in attempts if r.status == 201]
        self.statuses = Counter(r.status for r in attempts)
        self.refused_429 = self.statuses.get(429, 0)
        self.refused_at = [r.at for r in attempts if r.status == 429]
        self.elapsed = self.accepted[-1] - self.accepted[0] if len(self.accepted) > 1 else 0.0
        # n sends span n - 1 intervals: a perfectly paced run shows exactly the limit.
        self.rate = (len(self.accepted) - 1) / self.elapsed * window if self.elapsed else 0.0
        self.max_window, self.max_window_at = max_in_window(self.attempt_times, window)


def exactly_once(db, notify: FakeNotify, event_id: str) -> dict[str, int]:
    """Rows against what Notify holds: each row ``sent`` with the id of the one notification for it."""
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT id::text, status, notify_id FROM water.scheduled_notification WHERE event_id = %s", (event_id,)
        )
        rows = cursor.fetchall()
    seen = Counter(reference_id(n["reference"]) for n in notify.notifications)
    notify_ids = {reference_id(n["reference"]): n["id"] for n in notify.notifications}
    ids = {row_id for row_id, _, _ in rows}
    return {
        "rows": len(rows),
        "sent": sum(1 for _, status, notify_id in rows if status == "sent" and notify_id),
        "not_sent": sum(1 for _, status, notify_id in rows if status != "sent" or not notify_id),
        "twice": sum(1 for row_id in ids if seen[row_id] > 1),
        "unseen": sum(1 for row_id in ids if seen[row_id] == 0),
        "wrong_notify_id": sum(
            1 for row_id, _, notify_id in rows if seen[row_id] == 1 and notify_id != notify_ids[row_id]
        ),
        "stray": sum(n for ref, n in seen.items() if ref not in ids),
    }


# -- the run ------------------------------------------------------------------------------------------------


def add_rows(db, n: int, reference_code: str) -> str:
    event_id = str(uuid.uuid4())
    with db.cursor() as cursor:
        cursor.execute(EVENT, (event_id, reference_code, json.dumps({"name": "Returns: invitation", "recipients": n})))
        cursor.execute(ROWS, {"event": event_id, "template": EMAIL_TEMPLATE, "pdf": psycopg2.Binary(PDF), "n": n})
    return event_id


def publish_start(amqp_url: str, event_id: str) -> None:
    """The start-job message another service sends when a notice is sent."""
    body = {
        "queue_name": "control",
        "actor_name": "start-job",
        "message_id": str(uuid.uuid4()),
        "kwargs": {"job": JOB, "params": {"event_id": event_id}},
    }
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            "",
            "control",
            json.dumps(body).encode(),
            pika.BasicProperties(delivery_mode=2, content_type="application/json"),
        )
    finally:
        connection.close()


def scalar(db, query: str, *params):
    with db.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0]


def wait_until(what: str, condition, timeout: float, processes: list[Worker]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for process in processes:
            process.check()
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def send_all(db, notify: FakeNotify, event_id: str, args, processes: list[Worker]) -> bool:
    """Wait until no row of the event is due any more; False on time-out. Progress every 15 s."""
    deadline = time.monotonic() + args.timeout
    last_log, last_count = time.monotonic(), 0
    while True:
        for process in processes:
            process.check()
        due = scalar(
            db, "SELECT count(*) FROM water.scheduled_notification WHERE event_id = %s AND status = 'sending'", event_id
        )
        if due == 0:
            return True
        if time.monotonic() > deadline:
            log(f"timed out after {args.timeout:.0f}s with {due:,} rows still due")
            return False
        if time.monotonic() - last_log >= 15:
            accepted = len(notify.notifications)
            rate = (accepted - last_count) / (time.monotonic() - last_log) * args.window
            refused = sum(1 for r in notify.received("POST") if r.status == 429)
            log(f"  {accepted:,} sent, {due:,} due, {rate:,.0f} per {args.window:g} s lately, {refused} refused (429)")
            last_log, last_count = time.monotonic(), accepted
        time.sleep(1)


def send_message_runs(db, since: float) -> list[tuple]:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT r.trigger, r.status, extract(epoch FROM r.started_at) - %s, "
            "extract(epoch FROM coalesce(r.finished_at, now()) - r.started_at), "
            "coalesce((r.counts->>'sent')::int, 0), coalesce((r.counts->>'errors')::int, 0), "
            "(SELECT count(*) FROM jobs.events e WHERE e.run_id = r.run_id AND e.kind = 'retrying'), r.error "
            "FROM jobs.runs r WHERE r.job = %s ORDER BY r.started_at",
            (since, JOB),
        )
        return cursor.fetchall()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=10_000, help="due notifications (default 10,000)")
    p.add_argument("--limit", type=int, default=3000, help="Notify's rate limit, sends per window (default 3000)")
    p.add_argument("--window", type=int, default=60, help="its window in seconds (default 60)")
    p.add_argument(
        "--job-limit",
        type=int,
        help="the workers' WRLS_NOTIFY_RATE_LIMIT, to try a margin below Notify's (default: --limit)",
    )
    p.add_argument("--workers", type=int, default=2, help="worker subprocesses (default 2)")
    p.add_argument("--processes", type=int, default=2, help="processes per worker (default 2)")
    p.add_argument("--threads", type=int, default=8, help="threads per process (default 8)")
    p.add_argument("--legacy-ticks", type=int, default=2, help="ticks of the legacy baseline (default 2, 15 s each)")
    p.add_argument(
        "--no-message",
        dest="message",
        action="store_false",
        help="no start-job message: the scheduler's minute ticks alone start the runs",
    )
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--rabbit", default="amqp://guest:guest@127.0.0.1:5672")
    p.add_argument("--management", default="http://127.0.0.1:15672/api")
    p.add_argument(
        "--timeout",
        type=float,
        help="seconds to wait for every row to be sent (default: twice the expected time + 3 minutes)",
    )
    p.add_argument("--keep", action="store_true", help="keep the database, vhost and logs")
    args = p.parse_args()
    if min(args.messages, args.limit, args.window, args.workers, args.legacy_ticks) < 1:
        p.error("--messages, --limit, --window, --workers and --legacy-ticks must be at least 1")
    args.job_limit = args.job_limit or args.limit
    if args.timeout is None:
        args.timeout = 2 * args.messages / args.limit * args.window + 180
    notify = FakeNotify(rate_limit=(args.limit, args.window)).start()
    legacy_notify = FakeNotify(rate_limit=(args.limit, args.window)).start()
    probe = None
    try:
        with sandbox(args, "notify") as box:
            env = box.env(
                WRLS_LOG_LEVEL="INFO",
                **notify.worker_env(),
                WRLS_NOTIFY_RATE_LIMIT=str(args.job_limit),
                WRLS_NOTIFY_RATE_WINDOW_S=str(args.window),
                # send-message alone: the other jobs would only fail here (no S3, no Charging Module).
                **{f"WRLS_SCHEDULE_{s.job.upper().replace('-', '_')}": "off" for s in SCHEDULES if s.job != JOB},
            )
            box.upgrade(env)
            db = box.connect()
            event_id = add_rows(db, args.messages, "RINV-BENCH1")
            legacy_event = add_rows(db, args.legacy_ticks * BATCH, "RINV-LEGACY")
            log(f"{args.messages:,} due notifications, {args.legacy_ticks * BATCH} more for the legacy baseline")

            log(f"legacy baseline: {args.legacy_ticks} ticks {TICK_S} s apart, up to {BATCH} rows each sent at once")
            legacy = run_legacy(
                box.db_url,
                NotificationsAPIClient(legacy_notify.api_key, base_url=legacy_notify.base_url, timeout=10),
                legacy_event,
                args.legacy_ticks,
            )
            # Whatever the legacy left due must not reach the workers' count.
            with db.cursor() as cursor:
                cursor.execute(
                    "UPDATE water.scheduled_notification SET status = 'draft' "
                    "WHERE event_id = %s AND status = 'sending'",
                    (legacy_event,),
                )

            log(
                f"starting {args.workers} workers ({args.processes} processes x {args.threads} threads) and a scheduler"
            )
            started = time.time()
            workers = [
                Worker(
                    f"worker-{i + 1}",
                    [*CLI, "worker", "--processes", str(args.processes), "--threads", str(args.threads)],
                    env,
                    box.tmp,
                )
                for i in range(args.workers)
            ]
            box.workers.extend(workers)
            probe = Probe(box.amqp_url)
            wait_until(
                "the workers to consume",
                lambda: all(
                    probe.consumers(q) >= args.workers * args.processes for q in ("control", "schedule", "short")
                ),
                60,
                workers,
            )
            scheduler = Worker("scheduler", [*CLI, "scheduler"], env, box.tmp)
            box.workers.append(scheduler)
            if args.message:
                publish_start(box.amqp_url, event_id)
                log("start-job sent for the event; the scheduler ticks every minute")
            else:
                log("waiting for the scheduler's first minute tick")
            complete = send_all(db, notify, event_id, args, [*workers, scheduler])

            scheduler.stop(timeout=20)
            try:
                wait_until(
                    "the send-message runs to end",
                    lambda: (
                        scalar(db, "SELECT count(*) FROM jobs.runs WHERE job = %s AND status = 'running'", JOB) == 0
                    ),
                    SEND_FOR_S + 60,
                    workers,
                )
            except BenchError as e:
                log(str(e))
            for worker in workers:
                worker.stop(timeout=30)

            ours = Figures(notify, args.window)
            old = Figures(legacy_notify, args.window)
            once = exactly_once(db, notify, event_id)
            runs = send_message_runs(db, started)
    finally:
        if probe is not None:
            probe.close()
        notify.stop()
        legacy_notify.stop()

    return report(args, ours, old, legacy, once, runs, complete)


def report(args, ours: Figures, old: Figures, legacy, once: dict[str, int], runs: list[tuple], complete: bool) -> int:
    w = f"{args.window:g} s"
    legacy_rate = legacy.sent / legacy.seconds * args.window if legacy.seconds else 0.0
    share = ours.rate / args.limit
    over = ours.refused_429 > 0 or ours.max_window > args.limit
    lost = once["not_sent"] or once["unseen"] or once["wrong_notify_id"] or not complete
    twice = once["twice"] or once["stray"]
    gap, gap_at = largest_gap(ours.accepted)
    first = ours.accepted[0] if ours.accepted else 0.0

    print()
    job_limit = f" (the workers' {args.job_limit:,})" if args.job_limit != args.limit else ""
    print(
        f"send-message: {args.messages:,} notifications, Notify's limit {args.limit:,} per {w}{job_limit}; "
        f"{args.workers} workers x {args.processes} processes x {args.threads} threads; {runtime_version()}"
    )
    print(f"  {'':34} {'ours':>14} {'legacy':>14}")
    print(f"  {'sent (Notify accepted)':34} {len(ours.accepted):>14,} {len(old.accepted):>14,}")
    print(f"  {'measured over (s)':34} {ours.elapsed:>14.1f} {legacy.seconds:>14.1f}")
    print(f"  {'achieved rate per ' + w:34} {ours.rate:>14,.1f} {legacy_rate:>14,.1f}")
    print(
        f"  {'of the limit':34} {share:>14.1%} {legacy_rate / args.limit:>14.1%}"
        f"   target >= {TARGET:.0%}: {'met' if share >= TARGET else 'NOT met'}"
    )
    print(
        f"  {'most send attempts in any ' + w:34} {ours.max_window:>14,} {old.max_window:>14,}"
        f"   limit {args.limit:,}: {'exceeded' if ours.max_window > args.limit else 'kept'}"
    )
    print(f"  {'refused with 429':34} {ours.refused_429:>14,} {old.refused_429:>14,}")
    print(
        f"  {'other answers than 201':34} {sum(n for s, n in ours.statuses.items() if s not in (201, 429)):>14,}"
        f" {sum(n for s, n in old.statuses.items() if s not in (201, 429)):>14,}"
    )
    print(f"  {'ratio ours / legacy':34} {ours.rate / legacy_rate if legacy_rate else 0:>14.2f}x")
    print(
        f"  legacy: {legacy.ticks} ticks of {BATCH} rows, its rate over the ticks' {legacy.seconds:.0f} s "
        f"({legacy.sent} sent, {legacy.errors} errors)"
    )
    print(f"  sends per {w} from the first: {', '.join(f'{n:,}' for n in per_window(ours.accepted, args.window))}")
    print(f"  largest pause between two sends: {gap:.2f} s, at +{gap_at - first:.1f} s")
    if ours.max_window:
        print(f"  most attempts in a window: {ours.max_window:,} in the {w} up to +{ours.max_window_at - first:.1f} s")
    if ours.refused_at:
        print(f"  429s at: {', '.join(f'+{t - first:.1f} s' for t in ours.refused_at[:12])}")
    print(
        f"  exactly once: {once['rows']:,} rows, {once['sent']:,} sent with a notify_id; "
        f"{once['twice']} sent twice, {once['unseen']} never seen by Notify, {once['not_sent']} not marked sent, "
        f"{once['wrong_notify_id']} with another notify_id, {once['stray']} strays"
    )
    print(f"  send-message runs ({len(runs)}), from the workers' start:")
    for trigger, status, at, seconds, sent, errors, retries, error in runs:
        extra = f", {retries} retries" if retries else ""
        extra += f": {error.splitlines()[0][:100]}" if error else ""
        print(f"    +{at:6.1f} s  {trigger:8} {status:10} {seconds:6.1f} s  {sent:6,} sent, {errors} errors{extra}")
    counted = sum(run[4] for run in runs)
    if counted != once["sent"]:
        # The runtime keeps no counts of a failed attempt: what a step sent before it failed is missing.
        print(f"  the runs' counts add up to {counted:,} sent, of {once['sent']:,} rows sent")
    failures = [
        text
        for bad, text in (
            (over, "the limit was exceeded"),
            (twice, "a notification went twice"),
            (lost, "rows were not sent"),
        )
        if bad
    ]
    print(f"  result: {'FAILED: ' + '; '.join(failures) if failures else 'OK'}")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted: cleaned up")
        sys.exit(130)
    except BenchError as e:
        log(f"FAILED: {e}")
        sys.exit(1)
