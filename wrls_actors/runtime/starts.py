"""Step starts: checked against their run and recorded before the work runs, in groups.

A step or child message may run only for a running run at that step. The same
statement that checks it records the start as ``running``, durably, so a
worker killed a moment later leaves a row its redelivery counts as a second
delivery (the asynchronous ledger writer would have lost it). One statement
per message would halve fan-out throughput; as with fan-in arrivals
(``fan_in.py``), each process has one committer thread that writes every
start handed over since its last commit in one transaction, and each worker
thread waits for its group's commit.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import Engine
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.pool import PoolProxiedConnection

from .group_commits import GroupCommitter
from .partition_statements import PartitionStatements, connect, execute, plain
from .sql_arrays import array_literal
from .workers import identity

logger = logging.getLogger(__name__)

RUN, STRAY, DUPLICATE = "run", "stray", "duplicate"


@dataclasses.dataclass(eq=False)
class Start:
    message_id: str
    created_on: date  # lifecycle.created_on: the row's partition
    run_id: str
    actor: str
    queue: str
    attempt: int
    job: str
    index: int
    time_limit_ms: int | None
    run_started_at: datetime | None = None  # the run's start (lifecycle.run_started_at); None: an older message
    record: bool = True  # False: only checked (a redelivery's start is counted by the ledger)
    done: threading.Event | None = None  # its hand-over's (group_commits.py)
    error: BaseException | None = None
    verdict: str = ""
    reason: str = ""
    run_status: str | None = None


# The verdict for each start, and the running row for those that run, naming
# the worker process ($10, one per group: a group is one process's). A row
# already at a later state (attempt, deliveries, rank) is left alone, as the
# ledger writer does. The starts of one run's start ($12) are checked together, on the partition of
# jobs.runs that holds that start (partition_statements.py): prepared there, the statement is planned
# once and reads and locks that one week. Older messages, without their run's start, are checked by
# run id on every week (RUN_BY_ID, $12 null).
RUN_BY_KEY = "r.run_id = m.run_id AND r.started_at = $12::timestamptz"
RUN_BY_ID = "r.run_id = m.run_id AND $12::timestamptz IS NULL"
CHECK_AND_RECORD = """
WITH m AS (
    SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::int[], $6::text[], $7::int[],
                         $8::int[], $9::bool[], $11::date[])
        AS m(message_id, run_id, actor, queue, attempt, job, step_index, time_limit_ms, record, created_on)
), v AS (
    SELECT m.*, r.job AS run_job, r.status AS run_status, r.step_index AS run_step,
           CASE WHEN r.run_id IS NULL OR r.job <> m.job OR r.step_index < m.step_index THEN 'stray'
                WHEN r.status = 'running' AND r.step_index = m.step_index THEN 'run'
                ELSE 'duplicate' END AS verdict
    FROM m LEFT JOIN LATERAL (SELECT r.* FROM {runs} r WHERE {run} LIMIT 1) r ON true
), recorded AS (
    INSERT INTO jobs.steps AS s (message_id, created_on, run_id, actor, queue, attempt, deliveries, rank, status,
                                 started_at, heartbeat_at, time_limit_ms, worker)
    SELECT message_id, created_on, run_id, actor, queue, attempt, 1, 1, 'running', now(), now(), time_limit_ms,
           $10::text
    FROM v WHERE verdict = 'run' AND record ORDER BY message_id COLLATE "C", created_on
    ON CONFLICT (message_id, created_on) DO UPDATE SET
        run_id = coalesce(s.run_id, EXCLUDED.run_id), attempt = EXCLUDED.attempt, deliveries = 1, rank = 1,
        status = 'running', started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at,
        finished_at = NULL, time_limit_ms = EXCLUDED.time_limit_ms, worker = EXCLUDED.worker
    WHERE (EXCLUDED.attempt, 1, 1) >= (s.attempt, s.deliveries, s.rank)
)
SELECT message_id, verdict, run_job, run_status, run_step FROM v
"""
IN_PARTITION = CHECK_AND_RECORD.format(runs="{partition}", run=RUN_BY_KEY)
# By run start or by run id, on every week: planned for its values (a start's prunes to its week).
BY_KEY = plain(CHECK_AND_RECORD.format(runs="jobs.runs", run=RUN_BY_KEY))
BY_ID = plain(CHECK_AND_RECORD.format(runs="jobs.runs", run=RUN_BY_ID))
LOCATE = (
    "SELECT tableoid::int, tableoid::regclass::text FROM jobs.runs "
    "WHERE run_id = %(run_id)s AND started_at = %(started_at)s"
)
EXECUTE = (
    "EXECUTE {} (%s::text[], %s::uuid[], %s::text[], %s::text[], %s::int[], %s::text[], "
    "%s::int[], %s::int[], %s::bool[], %s::text, %s::date[], %s::timestamptz)"
)


def explain(start: Start, run_job: str | None, run_status: str | None, run_step: int | None) -> str:
    if run_job is None and start.run_started_at is not None:
        return f"run {start.run_id} started at {start.run_started_at.isoformat()} does not exist"
    if run_job is None:
        return f"run {start.run_id} does not exist"
    if run_job != start.job:
        return f"run {start.run_id} is a run of {run_job}, not {start.job}"
    if run_step is not None and run_step < start.index:
        return f"run {start.run_id} is at step {run_step}, not yet at step {start.index}"
    if run_status != "running":
        return f"run {start.run_id} has ended ({run_status})"
    return f"run {start.run_id} has moved past step {start.index} (it is at step {run_step})"


def partition_statements() -> PartitionStatements:
    """A connection's statements on the partition of jobs.runs of each run start."""
    return PartitionStatements("wrls_step_starts", IN_PARTITION, LOCATE)


def write_group(cursor: DBAPICursor, group: list[Start], worker: str, statements: PartitionStatements) -> None:
    """Check and record a group of starts by ``worker`` (workers.identity), on a DB-API cursor in
    autocommit whose connection has ``SETTINGS`` and prepares ``statements``."""
    by_start: dict[datetime | None, list[Start]] = {}
    for start in group:
        by_start.setdefault(start.run_started_at, []).append(start)
    for started_at, part in by_start.items():
        if started_at is None:
            _write_part(cursor, BY_ID, part, worker)
            continue
        name = statements.statement_for(cursor, started_at, {"run_id": part[0].run_id, "started_at": started_at})
        if name is None:
            _write_part(cursor, BY_KEY, part, worker)
            continue
        _write_part(cursor, EXECUTE.format(name), part, worker)
        unfound = [s for s in part if s.verdict == STRAY]
        if unfound:
            # Strays, or starts of runs that are not in that partition (any more): checked on every week.
            _write_part(cursor, BY_KEY, unfound, worker)
            if any(s.verdict != STRAY for s in unfound):
                statements.forget(started_at)


def _write_part(cursor: DBAPICursor, statement: str, group: list[Start], worker: str) -> None:
    # Each array as one literal (sql_arrays.py): a group is small, but this runs for every message.
    parameters = (
        array_literal([s.message_id for s in group]),
        array_literal([s.run_id for s in group]),
        array_literal([s.actor for s in group]),
        array_literal([s.queue for s in group]),
        array_literal([s.attempt for s in group]),
        array_literal([s.job for s in group]),
        array_literal([s.index for s in group]),
        array_literal([s.time_limit_ms for s in group]),
        array_literal([s.record for s in group]),
        worker,
        array_literal([s.created_on for s in group]),
        group[0].run_started_at,
    )
    execute(cursor, statement, parameters)
    verdicts = {row[0]: row[1:] for row in cursor.fetchall()}
    for start in group:
        verdict, run_job, run_status, run_step = verdicts[start.message_id]
        start.verdict = verdict
        start.run_status = run_status
        start.reason = explain(start, run_job, run_status, run_step) if verdict != RUN else ""


class StartCommitter(GroupCommitter[Start]):
    """One committer thread per process; ``wait`` blocks until a start's group is committed."""

    thread_name = "step-starts"

    def __init__(self, engine_factory: Callable[[], Engine]) -> None:
        super().__init__(engine_factory)
        self._statements = partition_statements()
        self._worker = identity()

    def start(self, start: Start) -> Start:
        """Check and record one start; its ``verdict`` says whether to run it."""
        self.submit_all([start])
        return self.wait(start)

    def _describe(self, item: Start) -> str:
        return f"start of {item.message_id}"

    def _commit(self, group: list[Start]) -> None:
        # A message redelivered within one group is one start: its later copy is written after it.
        while group:
            unique: dict[str, Start] = {}
            later: list[Start] = []
            for start in group:
                if start.message_id in unique:
                    later.append(start)
                else:
                    unique[start.message_id] = start
            super()._commit(list(unique.values()))
            group = later

    def _connect(self, engine: Engine) -> PoolProxiedConnection:
        # The thread's own connection, the statement prepared once per partition, each group
        # one round trip in autocommit: planning the statement, the pool's checkout and
        # reset, and BEGIN/COMMIT would cost more than running it.
        # Visible to every process at commit, which a killed worker needs; only a
        # database crash could lose the last fraction of a second of starts (a
        # delivery then counted one short), as with the ledger writer's routine rows.
        connection = connect(engine, "SET synchronous_commit = off")
        self._statements = partition_statements()
        self._worker = identity()  # a forked process's own
        return connection

    def _write_group(self, cursor: DBAPICursor, group: list[Start]) -> None:
        write_group(cursor, group, self._worker, self._statements)
