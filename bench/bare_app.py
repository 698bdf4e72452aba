"""The benchmark's bare Dramatiq app: a plain RabbitMQ broker and a no-op actor.

Run by ``dramatiq bare_app`` (with ``bench/`` on ``PYTHONPATH``) and imported
by ``throughput.py`` to enqueue. The broker URL comes from ``BENCH_BROKER_URL``.

Completions are counted without touching the broker: each worker thread bumps
its own slot of a dict (one dict store, no lock) and one daemon thread per
process writes the process's total to ``$BENCH_COUNT_DIR/<pid>`` every 20 ms.
The benchmark sums those files. This is what "costs the actor nothing
significant" means here: a few hundred nanoseconds per message.
"""

from __future__ import annotations

import os
import threading
import time

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker

QUEUE = "bare-noop"

broker = RabbitmqBroker(url=os.environ["BENCH_BROKER_URL"], confirm_delivery=True)
dramatiq.set_broker(broker)

_per_thread: dict[int, int] = {}
_reporter_pid: int | None = None
_reporter_lock = threading.Lock()


def _report(directory: str) -> None:
    path = os.path.join(directory, str(os.getpid()))
    last = -1
    while True:
        total = sum(list(_per_thread.values()))
        if total != last:
            tmp = f"{path}.tmp"
            with open(tmp, "w") as f:
                f.write(str(total))
            os.replace(tmp, path)
            last = total
        time.sleep(0.02)


def _ensure_reporter() -> None:
    global _reporter_pid
    directory = os.environ.get("BENCH_COUNT_DIR")
    if not directory or _reporter_pid == os.getpid():
        return
    with _reporter_lock:
        if _reporter_pid != os.getpid():
            threading.Thread(target=_report, args=(directory,), name="bench-count", daemon=True).start()
            _reporter_pid = os.getpid()


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def noop() -> None:
    if _reporter_pid != os.getpid():
        _ensure_reporter()
    tid = threading.get_ident()
    _per_thread[tid] = _per_thread.get(tid, 0) + 1
