"""Fan-in arrivals, committed in groups.

Every child of a fan-out must be counted at its barrier, once, before its
message is acknowledged. Done one transaction per child, the barrier row
becomes the service's bottleneck: every worker thread queues on its lock.
Instead each process has one committer thread: a worker thread hands over its
arrival and waits; the committer writes everything handed over since its last
commit in one statement (one per run start in the group), each committed as it
runs, and wakes the waiters. The wait is a commit's length, the lock is taken
once per group, and nothing is acknowledged before its arrival is durable.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.pool import PoolProxiedConnection

from .group_commits import GroupCommitter
from .partition_statements import PartitionStatements, connect, execute, plain
from .sql_arrays import array_literal

logger = logging.getLogger(__name__)


@dataclasses.dataclass(eq=False)
class Arrival:
    run_id: str
    index: int
    message_id: str
    failed: bool
    counts: Mapping[str, int]
    run_started_at: datetime | None = None  # the run's start, its barrier's partition key; None: an older message
    items: int = 1  # the items its message carried (a chunk's), each counted at the barrier
    failures: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # its items that failed, named
    started_at: datetime | None = None  # when its step started (its timings: a successful child has no steps row)
    duration_ms: float | None = None
    done: threading.Event | None = None  # its hand-over's (group_commits.py)
    error: BaseException | None = None
    complete: bool = False  # the barrier may be complete: the caller checks whether to fire it


class MissingBarrier(LookupError):
    """Raised when a child arrives at a barrier that does not exist."""

    def __init__(self, run_id: str, index: int, run_started_at: datetime | None = None) -> None:
        at = f" of the run started at {run_started_at.isoformat()}" if run_started_at is not None else ""
        super().__init__(f"no barrier for run {run_id} step {index}{at}")
        self.barrier = (run_id, index)
        self.run_started_at = run_started_at


# One statement, one round trip: record the new arrivals (each with its own
# counts, summed only when the barrier fires) and add their items to their barriers.
# An arrival takes its barrier's run_started_at (the partition key of both):
# one for no barrier is not recorded, and write_group says the barrier is missing. The children of
# one run start ($6) are counted together, on the partition of jobs.barriers that holds that start
# (partition_statements.py): prepared there, the statement is planned once and reads, locks and
# updates that one week. Older messages, without their run's start, are counted by run id on every
# week (BARRIER_BY_ID, $6 null).
BARRIER_BY_KEY = "b.run_id = a.run_id AND b.step_index = a.step_index AND b.run_started_at = $6::timestamptz"
TARGET_BY_KEY = "AND b.run_started_at = $6::timestamptz"
BARRIER_BY_ID = "b.run_id = a.run_id AND b.step_index = a.step_index AND $6::timestamptz IS NULL"
COUNT_GROUP = """
WITH new AS (
    INSERT INTO jobs.barrier_arrivals
        (run_id, step_index, message_id, failed, counts, run_started_at, items, failed_items, failures,
         started_at, duration_ms)
    SELECT a.run_id, a.step_index, a.message_id, a.failed, a.counts, b.run_started_at, a.items,
        CASE WHEN a.failed THEN a.items ELSE coalesce(jsonb_array_length(a.failures), 0) END, a.failures,
        a.started_at, a.duration_ms
    FROM unnest($1::uuid[], $2::int[], $3::text[], $4::bool[], $5::jsonb[], $7::int[], $8::jsonb[],
                $9::timestamptz[], $10::float8[])
        AS a(run_id, step_index, message_id, failed, counts, items, failures, started_at, duration_ms)
    JOIN LATERAL (SELECT b.run_started_at FROM {barriers} b WHERE {barrier} LIMIT 1) b ON true
    ON CONFLICT DO NOTHING RETURNING run_id, step_index, run_started_at, items, failed_items
)
UPDATE {barriers} b SET arrived = b.arrived + s.n, failed = b.failed + s.f
FROM (SELECT run_id, step_index, run_started_at, sum(items) AS n, sum(failed_items) AS f
      FROM new GROUP BY run_id, step_index, run_started_at ORDER BY run_id, step_index) s
WHERE b.run_id = s.run_id AND b.step_index = s.step_index AND b.run_started_at = s.run_started_at {target}
RETURNING b.run_id::text, b.step_index, b.arrived, b.expected
"""
IN_PARTITION = COUNT_GROUP.format(barriers="{partition}", barrier=BARRIER_BY_KEY, target=TARGET_BY_KEY)
# By run start or by run id, on every week: planned for its values (a start's prunes to its week).
BY_KEY = plain(COUNT_GROUP.format(barriers="jobs.barriers", barrier=BARRIER_BY_KEY, target=TARGET_BY_KEY))
BY_ID = plain(COUNT_GROUP.format(barriers="jobs.barriers", barrier=BARRIER_BY_ID, target=""))
LOCATE = (
    "SELECT tableoid::int, tableoid::regclass::text FROM jobs.barriers "
    "WHERE run_id = %(run_id)s AND step_index = %(index)s AND run_started_at = %(started_at)s"
)
EXECUTE = (
    "EXECUTE {} (%s::uuid[], %s::int[], %s::text[], %s::bool[], %s::jsonb[], %s::timestamptz, %s::int[], "
    "%s::jsonb[], %s::timestamptz[], %s::float8[])"
)


def partition_statements() -> PartitionStatements:
    """A connection's statements on the partition of jobs.barriers of each run start."""
    return PartitionStatements("wrls_arrivals", IN_PARTITION, LOCATE)


# A barrier looked up by its run's start is found only at that start: an arrival must not pass
# for one of a barrier it was not counted at.
WHERE_BARRIERS = """
SELECT b.run_id::text, b.step_index, u.started, b.arrived, b.expected
FROM unnest(%(runs)s::uuid[], %(indexes)s::int[], %(starts)s::timestamptz[]) AS u(run_id, step_index, started)
JOIN jobs.barriers b ON b.run_id = u.run_id AND b.step_index = u.step_index
    AND b.run_started_at = coalesce(u.started, b.run_started_at)
"""


def new_arrival(
    run_id: str,
    index: int,
    message_id: str,
    *,
    failed: bool,
    counts: Mapping[str, int] | None = None,
    run_started_at: datetime | None = None,
    items: int = 1,
    failures: list[dict[str, Any]] | None = None,
    started_at: datetime | None = None,
    duration_ms: float | None = None,
) -> Arrival:
    """One child's arrival. ``run_started_at``: its run's start, if its message carries it; ``items``: those its
    message carried; ``failures``: its items that failed (all of them if it ``failed``); ``started_at`` and
    ``duration_ms``: its step's, kept with its arrival (a successful child has no steps row)."""
    return Arrival(
        str(run_id),
        index,
        message_id,
        failed,
        dict(counts or {}),
        run_started_at,
        items,
        list(failures or ()),
        started_at,
        duration_ms,
    )


def _barrier(arrival: Arrival) -> tuple[str, int, datetime | None]:
    return (arrival.run_id, arrival.index, arrival.run_started_at)


def write_group(cursor: DBAPICursor, group: list[Arrival], statements: PartitionStatements) -> None:
    """Count a group of arrivals in one statement per run start, on a DB-API cursor in autocommit whose
    connection has ``SETTINGS`` and prepares ``statements``."""
    # Keyed by the start each arrival gave too: one at a start that is not its run's finds no barrier.
    where: dict[tuple[str, int, datetime | None], tuple[int, int]] = {}
    by_start: dict[datetime | None, list[Arrival]] = {}
    for arrival in group:
        by_start.setdefault(arrival.run_started_at, []).append(arrival)
    for started_at, part in by_start.items():
        counted = _count_part(cursor, started_at, part, statements)
        where.update({(run_id, index, started_at): at for (run_id, index), at in counted.items()})
    unseen = sorted({_barrier(a) for a in group} - set(where), key=lambda b: (b[0], b[1], str(b[2])))
    if unseen:
        # Only repeats arrived for these (nothing was added): read where they stand.
        cursor.execute(
            WHERE_BARRIERS,
            {"runs": [u[0] for u in unseen], "indexes": [u[1] for u in unseen], "starts": [u[2] for u in unseen]},
        )
        where.update(
            {
                (run_id, index, started): (arrived, expected)
                for run_id, index, started, arrived, expected in cursor.fetchall()
            }
        )
    missing = sorted({_barrier(a) for a in group} - set(where), key=lambda b: (b[0], b[1], str(b[2])))
    if missing:
        raise MissingBarrier(*missing[0])
    for arrival in group:
        arrived, expected = where[_barrier(arrival)]
        # A repeated arrival may be the retry of one whose barrier could not fire.
        arrival.complete = arrived >= expected


def _count_part(
    cursor: DBAPICursor, started_at: datetime | None, part: list[Arrival], statements: PartitionStatements
) -> dict[tuple[str, int], tuple[int, int]]:
    """Count the arrivals of one run start; where each barrier that counted one stands."""
    if started_at is None:
        return _count(cursor, BY_ID, part)
    first = part[0]
    name = statements.statement_for(
        cursor, started_at, {"run_id": first.run_id, "index": first.index, "started_at": started_at}
    )
    if name is None:
        return _count(cursor, BY_KEY, part)
    counted = _count(cursor, EXECUTE.format(name), part)
    unfound = [a for a in part if (a.run_id, a.index) not in counted]
    if unfound:
        # Repeats, or barriers that are not in that partition (any more): counted on every week.
        again = _count(cursor, BY_KEY, unfound)
        if again:
            statements.forget(started_at)
        counted.update(again)
    return counted


def _count(cursor: DBAPICursor, statement: str, group: list[Arrival]) -> dict[tuple[str, int], tuple[int, int]]:
    # Each array as one literal (sql_arrays.py): a group is small, but this runs for every child.
    parameters = (
        array_literal([a.run_id for a in group]),
        array_literal([a.index for a in group]),
        array_literal([a.message_id for a in group]),
        array_literal([a.failed for a in group]),
        array_literal([json.dumps(a.counts) if a.counts else "{}" for a in group]),
        group[0].run_started_at,
        array_literal([a.items for a in group]),
        array_literal([json.dumps(a.failures, default=str) if a.failures else None for a in group]),
        array_literal([a.started_at for a in group]),
        array_literal([a.duration_ms for a in group]),
    )
    execute(cursor, statement, parameters)
    return {(run_id, index): (arrived, expected) for run_id, index, arrived, expected in cursor.fetchall()}


class ArrivalCommitter(GroupCommitter[Arrival]):
    """One committer thread per process; ``wait`` blocks until an arrival's group is committed."""

    thread_name = "fan-in"
    # Only its barrier's children are refused (see _commit): the connection is sound.
    keeps_connection = (MissingBarrier,)

    def __init__(self, engine: Engine) -> None:
        super().__init__(lambda: engine)
        self._statements = partition_statements()

    def arrive(self, run_id: str, index: int, message_id: str, **fields: Any) -> bool:
        """Count one child's items (``new_arrival``'s fields); True when its barrier may now be complete."""
        arrival = new_arrival(run_id, index, message_id, **fields)
        self.submit_all([arrival])
        return self.wait(arrival).complete

    def _describe(self, item: Arrival) -> str:
        return f"arrival of {item.message_id}"

    def _commit(self, group: list[Arrival]) -> None:
        try:
            self._write(group)
        except MissingBarrier as e:
            # Only that barrier's children are refused: the others go again, one by one.
            missing = [a for a in group if _barrier(a) == (*e.barrier, e.run_started_at)]
            for a in missing:
                a.error = e
            for arrival in group:
                if arrival not in missing:
                    super()._commit([arrival])
        except Exception as e:
            for a in group:
                a.error = e

    def _connect(self, engine: Engine) -> PoolProxiedConnection:
        # The thread's own DB-API connection, its statements prepared once per partition, each
        # group one round trip in autocommit: this runs for every child, and SQLAlchemy's statement
        # handling, the pool's checkout and reset, planning, and BEGIN/COMMIT cost more CPU than the
        # statement. In autocommit the barrier's row is locked only while its statement runs and
        # commits, not for a further round trip to say COMMIT. Commits stay synchronous: a child's
        # message is acknowledged once its statement returns, so its arrival must be on disk by then.
        connection = connect(engine)
        self._statements = partition_statements()
        return connection

    def _write_group(self, cursor: DBAPICursor, group: list[Arrival]) -> None:
        write_group(cursor, group, self._statements)
