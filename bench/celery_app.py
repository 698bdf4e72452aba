"""The benchmark's Celery peer: a no-op task, late acknowledgement, PostgreSQL results.

Imported by ``throughput.py`` to enqueue, and run by it as

    python bench/celery_app.py --pool prefork --processes 2 --threads 8

which starts the Celery workers as children in its own process group (so the
benchmark stops them, and meters their CPU, as one), passes SIGTERM on to
them (Celery's warm shutdown) and waits for them.

The pool: prefork (Celery's default) with a child process for each of the
other phases' 2 x 8 threads. The threads pool would match their shape, but
Celery's SQLAlchemy backend pools its connections only in forked children:
elsewhere it opens a new PostgreSQL connection for every result it stores
(``SessionManager.get_engine``, NullPool): on the development machine it
ran at a third of prefork's rate (132 against 316 to 378 tasks/s).
``--pool threads`` stays for comparison.

Configured as a Python team would run Celery for jobs that must not be lost:
``task_acks_late`` (a message is acknowledged only after its task ran and its
result was stored) with ``worker_prefetch_multiplier = 1``, the value Celery's
documentation gives for late acknowledgement ("Reserve one task at a time"),
publisher confirms (as the bare Dramatiq phase's ``confirm_delivery``) and the
SQLAlchemy result backend on PostgreSQL. Gossip, mingle and worker heartbeats
are off: they only serve monitoring and clusters of workers, and mingle alone
adds a second or more to each worker's start.

The environment gives the broker URL (``BENCH_BROKER_URL``), the result
backend (``BENCH_RESULT_BACKEND``, ``db+postgresql+psycopg2://...``) and, for
experiments, ``BENCH_CELERY_PREFETCH``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from celery import Celery

QUEUE = "celery-noop"
# The SQLAlchemy backend's table of results (one row a task).
RESULT_TABLE = "celery_taskmeta"
RESULT_SEQUENCE = "task_id_sequence"

app = Celery("celery_app", broker=os.environ["BENCH_BROKER_URL"], backend=os.environ["BENCH_RESULT_BACKEND"])
app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=int(os.environ.get("BENCH_CELERY_PREFETCH", "1")),
    task_default_queue=QUEUE,
    broker_transport_options={"confirm_publish": True},
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="bench.noop")
def noop() -> None:
    return None


def worker_commands(pool: str, processes: int, threads: int) -> list[list[str]]:
    """The same concurrency as the Dramatiq phases, in Celery's terms."""
    base = [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "-Q", QUEUE, "-l", "WARNING"]
    base += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    if pool == "threads":
        # One Celery worker per Dramatiq worker process, each with as many threads.
        return [base + ["-P", "threads", "-c", str(threads), "-n", f"bench{i}@%h"] for i in range(processes)]
    # One prefork worker with a child process for each of the Dramatiq phases' threads.
    return [base + ["-P", "prefork", "-c", str(processes * threads), "-n", "bench0@%h"]]


def main() -> int:
    p = argparse.ArgumentParser(description="start the benchmark's Celery workers and wait for them")
    p.add_argument("--pool", choices=("prefork", "threads"), default="prefork")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--threads", type=int, default=8)
    args = p.parse_args()
    here = str(Path(__file__).resolve().parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
    children = [subprocess.Popen(cmd, env=env) for cmd in worker_commands(args.pool, args.processes, args.threads)]

    def forward(signum, frame) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    # One worker that dies takes the others down, so the benchmark sees the failure.
    while all(child.poll() is None for child in children):
        time.sleep(0.1)
    forward(signal.SIGTERM, None)
    return max(child.wait() for child in children)


if __name__ == "__main__":
    sys.exit(main())
