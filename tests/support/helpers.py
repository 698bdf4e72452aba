from __future__ import annotations

import socket
from datetime import datetime

from sqlalchemy import text

from . import services as svc


def query(service, sql: str, **params):
    with service.engine.connect() as connection:
        return connection.execute(text(sql), params).all()


def scalar(service, sql: str, **params):
    rows = query(service, sql, **params)
    return rows[0][0] if rows else None


def wait_worker_ready(vhost: str, queue: str = "short", timeout_s: float = 40) -> None:
    svc.wait_for(
        lambda: svc.queue_stats(vhost, queue).get("consumers", 0) > 0, timeout_s, what=f"a worker consuming {queue}"
    )


def wait_run_ended(service, run_id: str, timeout_s: float = 30):
    def ended():
        rows = query(service, "SELECT * FROM jobs.runs WHERE run_id = :r AND status <> 'running'", r=run_id)
        return rows[0] if rows else None

    return svc.wait_for(ended, timeout_s, what=f"run {run_id} to end")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def add_run(
    service,
    job: str,
    *,
    status: str = "running",
    step_index: int = 0,
    started: str = "now()",
    nominal: datetime | None = None,
) -> str:
    """A run written straight into the ledger; ``started`` is an SQL expression."""
    with service.engine.begin() as connection:
        return connection.execute(
            text(
                f"INSERT INTO jobs.runs (run_id, job, trigger, nominal_time, status, step_index, started_at) "
                f"VALUES (gen_random_uuid(), :job, 'cli', :nominal, :status, :step, {started}) "
                "RETURNING run_id::text"
            ),
            {"job": job, "nominal": nominal, "status": status, "step": step_index},
        ).scalar_one()


# The sample app's jobs fixable and fan-fixable fail on what test_broken holds (tests/support/sample_app.py).
def break_sample(service, *what: str) -> None:
    with service.engine.begin() as connection:
        for w in what:
            connection.exec_driver_sql("INSERT INTO test_broken (what) VALUES (%s)", (w,))


def mend_sample(service) -> None:
    with service.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM test_broken")


def attempts(service, step: str) -> int:
    """How many times the sample app's step (or `child:item`) has started, as it records in test_attempts."""
    return scalar(service, "SELECT count(*) FROM test_attempts WHERE step = :s", s=step)
