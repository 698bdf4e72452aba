"""A benchmark's own RabbitMQ vhost, PostgreSQL database and folder of files.

    with sandbox(args, "digitise") as box:
        env = box.env(WRLS_WORKER_THREADS="1")
        box.upgrade(env)
        box.workers.append(Worker("worker", [*CLI, "worker"], env, box.tmp))

``args`` has the options every benchmark takes (``--postgres``, ``--rabbit``,
``--management``, ``--keep``). At the end, also after a failure, Ctrl-C or
SIGTERM, the workers are stopped, the connections closed, and the vhost,
database and folder deleted (``--keep`` keeps all three and says where).
A benchmark whose data is slow to make may also take ``--reuse NAME``: the
database NAME, kept by an earlier run, is used as it is and never dropped
(``box.reused`` tells the benchmark not to fill it again).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from throughput import BenchError, Management, Worker, log

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "wrls_actors"]


# Signs the sandbox's own messages (a throwaway vhost): not a secret.
SANDBOX_MESSAGE_KEY = "bench-sandbox-message-key-0123456789abcdef"


@dataclasses.dataclass
class Sandbox:
    vhost: str
    dbname: str
    db_url: str
    amqp_url: str
    mgmt: Management
    tmp: Path
    workers: list[Worker] = dataclasses.field(default_factory=list)
    connections: list = dataclasses.field(default_factory=list)
    reused: bool = False

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a wrls-actors process on this vhost and database (quiet unless told)."""
        return {
            "WRLS_MESSAGE_KEY": SANDBOX_MESSAGE_KEY,
            **os.environ,
            "WRLS_BROKER_URL": self.amqp_url,
            "WRLS_DATABASE_URL": self.db_url,
            "WRLS_LOG_LEVEL": "WARNING",
            **extra,
        }

    def upgrade(self, env: dict[str, str]) -> None:
        """The runtime's ledger, then the model (the app's create_tables)."""
        subprocess.run([*CLI, "db", "upgrade"], env=env, check=True, cwd=ROOT, capture_output=True)

    def connect(self):
        """An autocommit connection to the database, closed at the end."""
        db = psycopg2.connect(self.db_url)
        db.autocommit = True
        self.connections.append(db)
        return db


@contextmanager
def sandbox(args, name: str) -> Iterator[Sandbox]:
    # Stopped from a script (SIGTERM, or SIGINT ignored in a background job): clean up all the same.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    tag = os.urandom(5).hex()
    reuse = getattr(args, "reuse", None)
    vhost, dbname = f"bench-{tag}", reuse or f"bench_{tag}"
    box = Sandbox(
        vhost,
        dbname,
        f"{args.postgres}/{dbname}",
        f"{args.rabbit}/{vhost}",
        Management(args.management, "guest", "guest"),
        Path(tempfile.mkdtemp(prefix=f"wrls-{name}-bench-")),
        reused=reuse is not None,
    )
    admin = psycopg2.connect(f"{args.postgres}/postgres")
    admin.autocommit = True
    created = False
    try:
        log(f"vhost {vhost}, database {dbname}, files in {box.tmp}")
        box.mgmt.create_vhost(vhost, "guest")
        with admin.cursor() as cursor:
            if reuse:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (reuse,))
                if cursor.fetchone() is None:
                    raise BenchError(f"--reuse {reuse}: no such database (a run with --keep names the one it kept)")
            else:
                cursor.execute(f'CREATE DATABASE "{dbname}"')
                created = True
        yield box
    finally:
        for worker in box.workers:
            worker.stop(timeout=30)
        for db in box.connections:
            db.close()
        if args.keep:
            log(f"kept: vhost {vhost}, database {dbname}, files {box.tmp}")
        else:
            if reuse:
                log(f"database {dbname} left as it was (--reuse)")
            if created:
                with admin.cursor() as cursor:
                    cursor.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            box.mgmt.delete_vhost(vhost)
            shutil.rmtree(box.tmp, ignore_errors=True)
        admin.close()
