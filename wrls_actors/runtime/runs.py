"""Runs: starting a job, moving it along its steps, fan-out and fan-in.

Every decision is a compare-and-set on ``jobs.runs`` (the run's ``step_index``)
or on a ``jobs.barriers`` row, so a redelivered or duplicated message can
never move a run twice. The next message is published (with confirmed
delivery) only after the transaction that decided it has committed, because
the next step may start at once and must find the run moved on; if
publishing fails, the move is undone and the error reaches Dramatiq, so the
step is retried. Message ids are derived from the run, so a re-published
message keeps its id and the ledger sees one message.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dramatiq
from dramatiq import Message
from sqlalchemy import Connection, Engine, text

from .broker import publish_many
from .child_ids import child_message_id, child_positions, legacy_child_message_id, messages_of
from .chunks import name_item
from .database import bump, set_max
from .definitions import FAIL, MAX_CHUNK, SKIP, Job, Step
from .errors import AlreadyRunning, KeyReused, NoSuchRun, NotRunning, PermanentError, UnknownJob
from .fan_in import Arrival, ArrivalCommitter, new_arrival
from .lifecycle import RUN_STARTED_AT, run_started_micros
from .params import check_params

logger = logging.getLogger(__name__)

RUN_DURATION_BUCKETS_S = (1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400)


# A step's ledger row is written asynchronously, after the decision it led to is
# committed: a worker killed between the two would leave the row "queued" or
# "running" for ever. The decision settles it, in its own transaction (rank 2 =
# ended, so the writer's own late event, with the same or a later attempt, still
# overwrites it with the details).
SETTLE_STEP = text(
    "UPDATE jobs.steps SET status = 'succeeded', rank = 2, finished_at = coalesce(finished_at, now()) "
    "WHERE message_id = :message_id AND status IN ('queued', 'running', 'stalled')"
)
# The children's rows are locked in the ledger writer's order (message id, byte order) before they are
# changed: taken in the join's order, they deadlocked with a writer's batch holding some of them.
# Keyed by the run's start: its arrivals are in its week, and its children's rows no older than the day
# before it began (a child's row is dated by its message's timestamp, taken after the run began, less any
# clock skew between hosts). By message id alone, a year's ledger made this a hash join over every week.
# Driven by the run's rows still open, each looking its arrival up (LATERAL, kept from being flattened by
# OFFSET 0): by then a successful child's row is gone, so the few left are the children that failed or
# were retried, or whose row the writer had not yet dropped. Driven by the arrivals, it probed the steps
# once per child: 61 ms of a 20,000-child fan-in's firing, 2.6 ms this way; left to the planner, with the
# arrivals not yet analysed, it took that order and seconds.
SETTLE_CHILDREN = text(
    "WITH settled AS ("
    "  SELECT s.message_id, s.created_on, a.failed, a.arrived_at FROM jobs.steps s "
    "  CROSS JOIN LATERAL (SELECT a.failed, a.arrived_at FROM jobs.barrier_arrivals a "
    "    WHERE a.run_id = :run_id AND a.step_index = :index AND a.run_started_at = :started "
    "    AND a.message_id = s.message_id OFFSET 0) a "
    "  WHERE s.run_id = :run_id AND s.created_on >= :first_day AND s.status IN ('queued', 'running', 'stalled') "
    '  ORDER BY s.message_id COLLATE "C", s.created_on FOR UPDATE OF s) '
    "UPDATE jobs.steps s SET status = CASE WHEN d.failed THEN 'failed' ELSE 'succeeded' END, rank = 2, "
    "finished_at = coalesce(s.finished_at, d.arrived_at) FROM settled d "
    "WHERE s.message_id = d.message_id AND s.created_on = d.created_on AND s.created_on >= :first_day "
    "AND s.status IN ('queued', 'running', 'stalled')"
)
FIRE_BARRIER = text(
    "UPDATE jobs.barriers SET fired_at = now(), counts = ("
    "  SELECT coalesce(jsonb_object_agg(key, total), '{}') FROM ("
    "    SELECT key, sum(value::numeric) AS total FROM jobs.barrier_arrivals a, jsonb_each_text(a.counts) "
    "    WHERE a.run_id = :run_id AND a.step_index = :index AND a.run_started_at = :started GROUP BY key) per_key) "
    "WHERE run_id = :run_id AND step_index = :index AND run_started_at = :started "
    "AND fired_at IS NULL AND arrived >= expected RETURNING expected, failed"
)


def children_first_day(started_at: datetime) -> date:
    """The oldest day a child of a run begun at ``started_at`` can be dated (see SETTLE_CHILDREN)."""
    return started_at.astimezone(UTC).date() - timedelta(days=1)


# While a fan-in is open no main step of its run is at work, so the run's steps at work are its children.
CHILDREN_NOT_STARTED = text(
    "SELECT sum(greatest(b.expected - b.arrived - b.chunk * (SELECT count(*) FROM jobs.steps s "
    "WHERE s.run_id = b.run_id AND s.status IN ('running', 'retrying', 'stalled')), 0)) "
    "FROM jobs.barriers b WHERE b.run_id = CAST(:run_id AS uuid) AND b.fired_at IS NULL"
)
# The children a cancelled run never ran, as a column of a query on jobs.runs ``r``: its open fan-in's
# children that never arrived. Read, not stored: a child at work when the run was cancelled still arrives.
CHILDREN_CANCELLED = (
    "CASE WHEN r.status = 'cancelled' THEN (SELECT coalesce(sum(b.expected - b.arrived), 0) FROM jobs.barriers b "
    "WHERE b.run_id = r.run_id AND b.fired_at IS NULL) ELSE 0 END"
)


# The note of a fan-in with failed items names this many of them at most (the run's detail lists them all).
MAX_ITEMS_NAMED = 100
FAILED_ITEMS = text(
    "SELECT f.value AS failure FROM jobs.barrier_arrivals a, jsonb_array_elements(a.failures) f "
    "WHERE a.run_id = :run_id AND a.step_index = :index AND a.run_started_at = :started AND a.failed_items > 0 "
    "ORDER BY (f.value->>'position')::bigint NULLS LAST, a.arrived_at LIMIT :limit"
)


def failed_items_note(connection: Connection, keys: Mapping[str, Any], child: str, failed: int, expected: int) -> str:
    """The run's note of a fan-in with failed items: how many, and which (the first MAX_ITEMS_NAMED)."""
    named = [
        name_item(row.failure.get("item"))
        for row in connection.execute(FAILED_ITEMS, {**keys, "limit": MAX_ITEMS_NAMED})
        if "item" in row.failure
    ]
    note = f"{failed} of {expected} {child} items failed"
    if named:
        more = failed - len(named)
        note += ": " + ", ".join(named) + (f" and {more} more" if more > 0 else "")
    return note


def run_id_or_refuse(run_id: str) -> str:
    """A run id as PostgreSQL reads it (UUID() also takes urn:uuid:…, braces, non-ASCII digits); NoSuchRun if none."""
    try:
        return str(uuid.UUID(str(run_id)))
    except ValueError:
        raise NoSuchRun(f"no run {run_id!r}: run ids are UUIDs") from None


def step_message_id(run_id: uuid.UUID | str, index: int) -> str:
    return str(uuid.uuid5(uuid.UUID(str(run_id)), f"step:{index}"))


@dataclasses.dataclass(frozen=True)
class _Next:
    """A decided move, published once its transaction has committed."""

    job: Job
    run_id: str
    index: int
    params: Mapping[str, Any]
    started_at: datetime  # the run's
    fired: int | None  # the barrier whose firing decided it, re-armed if publishing fails


def _counts_json(counts: Mapping[str, int] | None) -> str:
    return json.dumps(dict(counts or {}))


class RunControl:
    """Moves runs along their jobs' steps. Knows the jobs, the database and the broker."""

    def __init__(
        self, engine: Engine, broker: dramatiq.Broker, jobs: Mapping[str, Job], chunk_limit: int = MAX_CHUNK
    ) -> None:
        self.engine = engine
        self.broker = broker
        self.jobs = jobs
        self.chunk_limit = chunk_limit  # most items in a chunked child message (the steps' own chunk, or fewer)
        self.committer = ArrivalCommitter(engine)

    # -- messages -------------------------------------------------------------

    def _message(
        self, job: Job, step: Step, message_id: str, kwargs: dict[str, Any], started_at: datetime
    ) -> Message[Any]:
        # The run's start is its rows' partition key: the start check and the fan-in find the run and
        # its barrier by it in one partition (signed, so it cannot make a message pass for another run).
        return Message(
            queue_name=job.queue_of(step),
            actor_name=job.actor_name(step),
            args=(),
            kwargs=kwargs,
            options={RUN_STARTED_AT: run_started_micros(started_at)},
            message_id=message_id,
            message_timestamp=int(time.time() * 1000),
        )

    def publish_step(self, job: Job, run_id: str, index: int, params: Mapping[str, Any], started_at: datetime) -> None:
        """Publish step ``index`` of a run that started at ``started_at`` (its message id is the step's own:
        see ``step_message_id``)."""
        self._publish_step(job, run_id, index, params, started_at)

    def _publish_step(self, job: Job, run_id: str, index: int, params: Mapping[str, Any], started_at: datetime) -> None:
        step = job.steps[index]
        self.broker.enqueue(
            self._message(
                job,
                step,
                step_message_id(run_id, index),
                {"run_id": str(run_id), "params": dict(params)},
                started_at,
            )
        )

    def _publish_children(
        self,
        job: Job,
        run_id: str,
        index: int,
        params: Mapping[str, Any],
        started_at: datetime,
        items: Sequence[Any],
        arrived: frozenset[int] = frozenset(),
        legacy: bool = False,
        chunk: int = 1,
    ) -> None:
        """One message per item, or per ``chunk`` items; ``arrived``: the positions of messages that have arrived.

        ``legacy``: the fan-out's children have ids of the older kind (``child_ids``), sent again as they were.
        """
        child = job.steps[index].fan_out
        assert child is not None
        derive = legacy_child_message_id if legacy else child_message_id
        if child.chunk is None and chunk == 1:
            kwargs = [{"run_id": str(run_id), "params": dict(params), "item": item} for item in items]
        else:
            # A message's position is its chunk's: the first of its items at position * chunk.
            kwargs = [
                {
                    "run_id": str(run_id),
                    "params": dict(params),
                    "items": list(items[first : first + chunk]),
                    "first": first,
                }
                for first in range(0, len(items), chunk)
            ]
        messages = [
            self._message(job, child, derive(run_id, index, position), arguments, started_at)
            for position, arguments in enumerate(kwargs)
            if position not in arrived
        ]
        publish_many(self.broker, messages)

    # -- starting -------------------------------------------------------------

    def running_run(self, connection: Connection, job: str) -> str | None:
        row = connection.execute(
            text(
                "SELECT run_id FROM jobs.runs WHERE job = :job AND status = 'running' ORDER BY started_at DESC LIMIT 1"
            ),
            {"job": job},
        ).first()
        return str(row.run_id) if row else None

    def start(
        self,
        job_name: str,
        trigger: str,
        params: Mapping[str, Any] | None = None,
        *,
        nominal_time: datetime | None = None,
        trigger_key: str | None = None,
        force: bool = False,
        overlap: str | None = None,
        claim: Callable[[Connection, str], None] | None = None,
    ) -> str:
        """Start a run and publish its first step; returns the run id.

        Raises BadMessage, before anything is recorded, when ``params`` are
        not what the job declares (every way in starts here, so none skips
        the check). Raises AlreadyRunning when the job is already running and its overlap
        policy is ``skip`` (unless ``force``). A ``trigger_key`` seen before
        (a redelivered start message) returns the run it started. ``claim``
        runs inside the transaction that creates the run (the scheduler
        records its tick there).
        """
        job = self.jobs.get(job_name)
        if job is None:
            raise UnknownJob(f"unknown job {job_name!r}")
        params = check_params(job_name, job.params, params)
        run_id = str(uuid.uuid4())
        with self.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"run:{job_name}"})
            if trigger_key is not None:
                # The same key for two jobs at once: the job lock alone would let both insert.
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"key:{trigger_key}"})
                seen = connection.execute(
                    text("SELECT run_id, job FROM jobs.runs WHERE trigger_key = :key"), {"key": trigger_key}
                ).first()
                if seen and seen.job != job_name:
                    raise KeyReused(trigger_key, seen.job, str(seen.run_id))
                if seen:
                    return str(seen.run_id)
            if (overlap or job.overlap) == SKIP and not force:
                previous = self.running_run(connection, job_name)
                if previous:
                    raise AlreadyRunning(job_name, previous)
            started_at = connection.execute(
                text(
                    "INSERT INTO jobs.runs (run_id, job, trigger, trigger_key, nominal_time, params, status) "
                    "VALUES (:run_id, :job, :trigger, :key, :nominal, CAST(:params AS jsonb), 'running') "
                    "RETURNING started_at"
                ),
                {
                    "run_id": run_id,
                    "job": job_name,
                    "trigger": trigger,
                    "key": trigger_key,
                    "nominal": nominal_time,
                    "params": json.dumps(params),
                },
            ).scalar_one()
            bump(connection, "runs_started_total", {"job": job_name, "trigger": trigger})
            if claim is not None:
                claim(connection, run_id)
            # Committed before publishing: the first step must find its run.
            connection.commit()
        try:
            self._publish_step(job, run_id, 0, params, started_at)
        except Exception as e:
            self.fail(run_id, f"could not publish the first step: {e}")
            raise
        logger.info("run %s of %s started (%s)", run_id, job_name, trigger, extra={"run_id": run_id, "job": job_name})
        return run_id

    # -- moving along ---------------------------------------------------------

    def advance(
        self, run_id: str, index: int, counts: Mapping[str, int] | None = None, message_id: str | None = None
    ) -> None:
        """Step ``index`` succeeded: publish the next step, or end the run."""
        with self.engine.connect() as connection:
            after = self._advance(connection, run_id, index, counts)
            if message_id:
                connection.execute(SETTLE_STEP, {"message_id": message_id})
            connection.commit()
        self._publish_next(after)

    def _advance(
        self,
        connection: Connection,
        run_id: str,
        index: int,
        counts: Mapping[str, int] | None,
        fired: int | None = None,
    ) -> _Next | None:
        """Move the run past step ``index``; returns the step to publish once this commits."""
        row = connection.execute(
            text(
                "UPDATE jobs.runs SET step_index = step_index + 1, counts = jobs.jsonb_add(counts, CAST(:counts AS jsonb)) "
                "WHERE run_id = :run_id AND step_index = :index AND status = 'running' "
                "RETURNING job, params, started_at"
            ),
            {"run_id": run_id, "index": index, "counts": _counts_json(counts)},
        ).first()
        if row is None:
            logger.info("run %s already moved past step %d; nothing to do", run_id, index)
            return None
        job = self.jobs[row.job]
        if index + 1 == len(job.steps):
            self._finish(connection, run_id, "succeeded", None)
            return None
        return _Next(job, run_id, index + 1, row.params, row.started_at, fired)

    def _publish_next(self, after: _Next | None) -> None:
        """Publish a committed decision; undo the decision if the broker refuses it.

        Publishing after the commit matters: the next step may start (and try
        to move the run on) before a still-open transaction would be visible.
        If publishing fails, the run goes back one step (and a fired barrier is
        re-armed) and the error reaches Dramatiq, so the retry decides again.
        """
        if after is None:
            return
        try:
            self._publish_step(after.job, after.run_id, after.index, after.params, after.started_at)
        except Exception:
            logger.exception("could not publish step %d of run %s; undoing the move", after.index, after.run_id)
            with self.engine.begin() as connection:
                connection.execute(
                    text(
                        "UPDATE jobs.runs SET step_index = :index - 1 "
                        "WHERE run_id = :run_id AND step_index = :index AND status = 'running'"
                    ),
                    {"run_id": after.run_id, "index": after.index},
                )
                if after.fired is not None:
                    connection.execute(
                        text("UPDATE jobs.barriers SET fired_at = NULL WHERE run_id = :run_id AND step_index = :i"),
                        {"run_id": after.run_id, "i": after.fired},
                    )
            raise

    def fan_out(self, run_id: str, index: int, items: Sequence[Any], counts: Mapping[str, int] | None = None) -> None:
        """Step ``index`` produced ``items``: one child message each, then fan-in."""
        with self.engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT job, params, started_at FROM jobs.runs "
                    "WHERE run_id = :run_id AND step_index = :index AND status = 'running'"
                ),
                {"run_id": run_id, "index": index},
            ).first()
            if row is None:
                logger.info("run %s is not at step %d any more; fan-out not repeated", run_id, index)
                return
            child = self.jobs[row.job].steps[index].fan_out
            chunk = min(child.chunk, self.chunk_limit) if child is not None and child.chunk else 1
            created = connection.execute(
                text(
                    # In its run's week (the partition key): a repeated fan-out finds it.
                    "INSERT INTO jobs.barriers (run_id, step_index, expected, run_started_at, chunk) "
                    "VALUES (:run_id, :index, :expected, :started, :chunk) ON CONFLICT DO NOTHING RETURNING expected"
                ),
                {"run_id": run_id, "index": index, "expected": len(items), "started": row.started_at, "chunk": chunk},
            ).first()
            arrived: frozenset[int] = frozenset()
            legacy = False
            if created is None:
                # The fan-out ran before (a redelivery, or an operator's retry of its failed children):
                # the children that arrived are not run again, and the items must be the same.
                # Sent again as it was sent first: in chunks of the size it had then.
                expected, chunk = connection.execute(
                    text("SELECT expected, chunk FROM jobs.barriers WHERE run_id = :run_id AND step_index = :index"),
                    {"run_id": run_id, "index": index},
                ).one()
                if expected != len(items):
                    raise PermanentError(
                        f"the step returned {len(items)} items where its fan-out has {expected}: "
                        "retry the run from this step instead"
                    )
                arrived_ids = connection.execute(
                    text(
                        "SELECT message_id FROM jobs.barrier_arrivals "
                        "WHERE run_id = :run_id AND step_index = :index AND run_started_at = :started"
                    ),
                    {"run_id": run_id, "index": index, "started": row.started_at},
                ).scalars()
                positions = child_positions(run_id, index, messages_of(len(items), chunk), arrived_ids)
                arrived = frozenset(positions.values())
                legacy = any(message_id != child_message_id(run_id, index, p) for message_id, p in positions.items())
            if created and counts:
                connection.execute(
                    text(
                        "UPDATE jobs.runs SET counts = jobs.jsonb_add(counts, CAST(:c AS jsonb)) WHERE run_id = :run_id"
                    ),
                    {"run_id": run_id, "c": _counts_json(counts)},
                )
            # The barrier must be committed before any child can arrive at it.
            connection.commit()
        job = self.jobs[row.job]
        if len(arrived) >= messages_of(len(items), chunk):
            # Nothing to publish (no items, or every child arrived): the barrier may be complete now.
            self._fire_if_complete(job, run_id, index, row.started_at)
            return
        # A redelivered fan-out publishes the children not arrived again, under the same ids:
        # the barrier counts each child id once.
        self._publish_children(job, run_id, index, row.params, row.started_at, items, arrived, legacy, chunk)

    def arrive(
        self,
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
    ) -> None:
        """A child ended (succeeded, or failed for good): its ``items`` count at the barrier, which fires once.

        ``run_started_at``: its run's start, as its message carries it (None for an older message).
        ``failures``: its items that failed, named (``ItemFailure.as_json``); ``started_at`` and
        ``duration_ms``: its step's timings, kept with its arrival."""
        child = new_arrival(
            run_id,
            index,
            message_id,
            failed=failed,
            counts=counts,
            run_started_at=run_started_at,
            items=items,
            failures=failures,
            started_at=started_at,
            duration_ms=duration_ms,
        )
        self.submit_arrivals([child])
        self.settle(child)

    def submit_arrivals(self, arrivals: list[Arrival]) -> None:
        """Hand children's arrivals to the committer, together and without waiting; ``settle`` waits for each."""
        self.committer.submit_all(arrivals)

    def settle(self, arrival: Arrival) -> None:
        """Wait until a submitted arrival is committed; fire its barrier if it may be complete."""
        if not self.committer.wait(arrival).complete:
            return
        # The last child, or a repeat of any child: fire if complete and not yet fired
        # (a repeat re-fires a barrier whose next step could not be published).
        run = self._job_of(arrival.run_id, arrival.run_started_at)
        if run is not None:
            self._fire_if_complete(self.jobs[run[0]], arrival.run_id, arrival.index, run[1])

    def fire_forgotten_barriers(self, older_than_s: float = 60) -> int:
        """Fire complete barriers that nothing fired (their last arrival's reaction was lost).

        Called by every worker's sweep: the fire is a compare-and-set, so
        several sweepers fire a barrier once.
        """
        with self.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT b.run_id::text AS run_id, b.step_index, b.run_started_at, r.job FROM jobs.barriers b "
                    "JOIN jobs.runs r ON r.run_id = b.run_id AND r.status = 'running' "
                    "WHERE b.fired_at IS NULL AND b.arrived >= b.expected "
                    "AND b.created_at < now() - make_interval(secs => :age) "
                    "AND NOT EXISTS (SELECT 1 FROM jobs.barrier_arrivals a WHERE a.run_id = b.run_id "
                    "  AND a.step_index = b.step_index AND a.arrived_at > now() - make_interval(secs => :age))"
                ),
                {"age": older_than_s},
            ).all()
        for row in rows:
            if row.job in self.jobs:
                logger.warning(
                    "fan-in of run %s step %d was complete but never fired: firing it now", row.run_id, row.step_index
                )
                self._fire_if_complete(self.jobs[row.job], row.run_id, row.step_index, row.run_started_at)
        return len(rows)

    def _job_of(self, run_id: str, started_at: datetime | None) -> tuple[str, datetime] | None:
        """The run's job and start; by its start when the message gave it, so one week is read."""
        by_start = " AND started_at = :s" if started_at is not None else ""
        with self.engine.connect() as connection:
            row = connection.execute(
                text(f"SELECT job, started_at FROM jobs.runs WHERE run_id = :r{by_start}"),
                {"r": run_id, "s": started_at},
            ).first()
        return (row.job, row.started_at) if row is not None else None

    def _fire_if_complete(self, job: Job, run_id: str, index: int, started_at: datetime) -> None:
        keys = {"run_id": run_id, "index": index, "started": started_at}
        with self.engine.connect() as connection:
            fired = connection.execute(FIRE_BARRIER, keys).first()
            if fired is None:
                connection.commit()
                return
            connection.execute(SETTLE_CHILDREN, {**keys, "first_day": children_first_day(started_at)})
            step = job.steps[index]
            logger.info(
                "fan-in of %s: %d items ended, %d failed",
                job.actor_name(step),
                fired.expected,
                fired.failed,
                extra={"run_id": run_id},
            )
            after = None
            assert step.fan_out is not None  # only a fan-out step has children to fan in
            failed_note = None
            if fired.failed:
                failed_note = failed_items_note(connection, keys, step.fan_out.name, fired.failed, fired.expected)
            if failed_note is not None and step.on_child_failure == FAIL:
                self._finish(connection, run_id, "failed", failed_note)
            else:
                if failed_note is not None:
                    # The run goes on: its note says which items it went on without.
                    connection.execute(
                        text(
                            "UPDATE jobs.runs SET note = coalesce(note || '; ', '') || :note "
                            "WHERE run_id = :run_id AND started_at = :started"
                        ),
                        {**keys, "note": failed_note},
                    )
                after = self._advance(connection, run_id, index, None, fired=index)
            connection.commit()
        self._publish_next(after)

    # -- ending ---------------------------------------------------------------

    def end(
        self, run_id: str, index: int, note: str, counts: Mapping[str, int] | None = None, message_id: str | None = None
    ) -> None:
        """Step ``index`` succeeded and ended the run early: nothing later is published."""
        with self.engine.connect() as connection:
            row = connection.execute(
                text(
                    "UPDATE jobs.runs SET note = :note, counts = jobs.jsonb_add(counts, CAST(:counts AS jsonb)) "
                    "WHERE run_id = :run_id AND step_index = :index AND status = 'running' RETURNING run_id"
                ),
                {"run_id": run_id, "index": index, "note": note, "counts": _counts_json(counts)},
            ).first()
            if row is None:
                logger.info("run %s already moved past step %d; nothing to do", run_id, index)
                return
            self._finish(connection, run_id, "succeeded", None)
            if message_id:
                connection.execute(SETTLE_STEP, {"message_id": message_id})
            connection.commit()

    def fail(self, run_id: str, error: str) -> None:
        """A step failed for good: the run fails and nothing later is published."""
        with self.engine.connect() as connection:
            self._finish(connection, run_id, "failed", error)
            connection.commit()

    def cancel(self, run_id: str, operator: str, reason: str) -> int:
        """Stop a running run at its next step boundary; returns the fan-out children not started.

        The step running now finishes (a step cannot be interrupted safely),
        but nothing after it is published: every move checks that the run is
        still running. Children not started yet are acknowledged unrun when
        their message comes; ``CHILDREN_CANCELLED`` counts them once the
        children at work have ended (the count returned here is the moment's:
        a child starting in that instant may still run). Raises NoSuchRun or
        NotRunning.
        """
        run_id = run_id_or_refuse(run_id)
        with self.engine.connect() as connection:
            row = connection.execute(
                text("SELECT status FROM jobs.runs WHERE run_id = CAST(:run_id AS uuid) FOR UPDATE"),
                {"run_id": run_id},
            ).first()
            if row is None:
                raise NoSuchRun(f"no run {run_id}")
            if row.status != "running":
                raise NotRunning(run_id, row.status)
            # The children of a fan-in still open, less those ended or at work now.
            cancelled = connection.execute(CHILDREN_NOT_STARTED, {"run_id": run_id}).scalar() or 0
            self._finish(
                connection,
                run_id,
                "cancelled",
                f"cancelled by {operator}: {reason}",
                operator=operator,
                reason=reason,
            )
            connection.commit()
        return int(cancelled)

    def _finish(
        self,
        connection: Connection,
        run_id: str,
        outcome: str,
        error: str | None,
        *,
        operator: str | None = None,
        reason: str | None = None,
    ) -> None:
        barriers = connection.execute(
            text("SELECT failed, counts FROM jobs.barriers WHERE run_id = :run_id"), {"run_id": run_id}
        ).all()
        children_failed = sum(b.failed for b in barriers)
        children_counts: Counter[str] = Counter()
        for barrier in barriers:
            children_counts.update(barrier.counts)
        if outcome == "succeeded" and children_failed:
            outcome = "completed-with-failures"
        row = connection.execute(
            text(
                "UPDATE jobs.runs SET status = :outcome, finished_at = now(), error = :error, "
                "children_failed = :failed, counts = jobs.jsonb_add(counts, CAST(:counts AS jsonb)) "
                "WHERE run_id = :run_id AND status = 'running' "
                "RETURNING job, extract(epoch FROM finished_at - started_at) AS seconds, "
                "extract(epoch FROM finished_at) AS finished, counts, note"
            ),
            {
                "run_id": run_id,
                "outcome": outcome,
                "error": error,
                "failed": children_failed,
                "counts": _counts_json(children_counts),
            },
        ).first()
        if row is None:
            return
        labels = {"job": row.job}
        bump(connection, "runs_total", {**labels, "outcome": outcome})
        bump(connection, "run_duration_seconds_sum", labels, float(row.seconds))
        bump(connection, "run_duration_seconds_count", labels)
        for bound in RUN_DURATION_BUCKETS_S:
            if row.seconds <= bound:
                bump(connection, "run_duration_seconds_bucket", {**labels, "le": str(bound)})
        if outcome in ("succeeded", "completed-with-failures"):
            set_max(connection, "job_last_success_timestamp_seconds", labels, float(row.finished))
        else:
            connection.execute(
                text(
                    "INSERT INTO jobs.events (kind, job, run_id, detail, operator, reason) "
                    "VALUES (:kind, :job, :run_id, :error, :operator, :reason)"
                ),
                {
                    "kind": "run-cancelled" if outcome == "cancelled" else "run-failed",
                    "job": row.job,
                    "run_id": run_id,
                    "error": error,
                    "operator": operator,
                    "reason": reason,
                },
            )
        if outcome == "completed-with-failures":
            connection.execute(
                text(
                    "INSERT INTO jobs.events (kind, job, run_id, detail) VALUES ('run-completed-with-failures', :job, :run_id, :detail)"
                ),
                {"job": row.job, "run_id": run_id, "detail": f"counts {json.dumps(row.counts)}"},
            )
        log = logger.info if outcome == "succeeded" else logger.warning
        log(
            "run %s of %s %s in %.1fs, counts %s%s%s",
            run_id,
            row.job,
            outcome,
            row.seconds,
            json.dumps(row.counts),
            f": {error}" if error else "",
            f" ({row.note})" if row.note else "",
            extra={"run_id": run_id, "job": row.job, "status": outcome},
        )
