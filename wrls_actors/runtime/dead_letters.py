"""Dead letters: the messages in every ``<queue>.XQ`` with the ledger's reason, and replaying one, once.

Dramatiq rejects into its queue's dead-letter queue, ``<queue>.XQ``, every
message that failed for good: after its retries, past the delivery limit, a
body or signature refused, a stray. RabbitMQ keeps it there for Dramatiq's
``dead_message_ttl`` (7 days); nothing consumes those queues.

**Reading** a dead-letter queue takes its messages with ``basic_get``
without acknowledging them, then closes the channel: RabbitMQ puts each back
at its position, so nothing is lost or reordered. While one reader holds them
another would find them missing, so readers (listings and replays, in any
process) take turns on a PostgreSQL advisory lock, held by a transaction of
its own that ends (or dies with its process) when the reading does.

**Replaying** a message publishes its body, as it is, to its queue (confirmed)
and then acknowledges the dead letter. Before that, in one committed
transaction: a step's failed run runs again at that step (its fan-out
afresh), a child no longer counts as failed at its fan-in (its run, if the
fan-in failed it, running again), the step's ledger row goes back to
``queued``, and a ``replayed`` event names who and why. That event is unique
per message id (migration 0006): a message is replayed once, even by two
operators at the same moment. A replayed message that fails again comes back
here, and is not replayed again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import dramatiq
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import ChannelClosedByBroker
from sqlalchemy import Connection, Engine, text

from .envelope import message_id_of
from .errors import JobRefused
from .lifecycle import CHILD, STEP
from .retries import forget_failed_child, forget_fan_out, reopen
from .runs import RunControl

logger = logging.getLogger(__name__)

XQ, DQ = ".XQ", ".DQ"
MAX_LIST = 1000
# Any constant: every process that reads a dead-letter queue takes this one lock.
READERS_LOCK = 0x5752_4C53_5851  # "WRLSXQ"
LOCK_WAIT = "30s"
MESSAGE_ID = re.compile(r"^[!-~]{1,200}$")
FINAL = ("failed", "timed-out", "dead-lettered")
REASONS = ("failed", "timed-out", "dead-lettered", "stray", "rejected")


class NoSuchDeadLetter(JobRefused):
    """Raised when no dead-letter queue holds a message of the id given."""


class AlreadyReplayed(JobRefused):
    """Raised when replaying a message that was replayed before (a message is replayed once)."""


class NotReplayable(JobRefused):
    """Raised when a dead letter could not run if replayed (its run moved on, or its body is no message)."""


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    message_id: str | None  # None: the body is not a message (not JSON), so it cannot be named or replayed
    queue: str  # the queue it was dead-lettered from
    actor: str | None
    run_id: str | None
    dead_lettered_at: datetime | None  # RabbitMQ's x-death time, else the ledger's
    reason: str | None  # the ledger's: the step's error, or the event that dead-lettered it
    status: str | None  # the step's status in the ledger, if it has a row
    replayed_at: datetime | None  # set when this id was replayed before (it failed again)


@dataclasses.dataclass(frozen=True)
class DeadLetters:
    letters: list[DeadLetter]
    depths: dict[str, int]  # messages in each dead-letter queue that exists, by its queue's name
    truncated: bool  # more messages than the limit: the first ones of each queue are listed


@dataclasses.dataclass(frozen=True)
class Replayed:
    message_id: str
    queue: str  # where it was published
    actor: str
    run_id: str | None


@dataclasses.dataclass
class _Held:
    queue: str  # the queue it was dead-lettered from (its dead-letter queue is queue + ".XQ")
    body: bytes
    dead_at: datetime | None
    tag: int = 0
    proxy: Any = None  # the in-process broker's message

    @property
    def fields(self) -> dict[str, Any] | None:
        try:
            decoded = json.loads(self.body)
        except (UnicodeDecodeError, ValueError):
            return None
        return decoded if isinstance(decoded, dict) else None


def check_message_id(message_id: str) -> str:
    if not isinstance(message_id, str) or not MESSAGE_ID.match(message_id):
        raise NoSuchDeadLetter(f"no dead letter {message_id!r}: a message id is 1 to 200 printable ASCII characters")
    return message_id


def _x_death_time(properties: pika.BasicProperties) -> datetime | None:
    deaths = (properties.headers or {}).get("x-death") or []
    moment = deaths[0].get("time") if deaths and isinstance(deaths[0], dict) else None
    if not isinstance(moment, datetime):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class _Rabbit:
    """Dead-letter queues read over AMQP, one queue's messages held at a time."""

    def __init__(self, broker: RabbitmqBroker) -> None:
        parameters = broker.parameters
        self.connection = pika.BlockingConnection(parameters)

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()

    @contextmanager
    def holding(self, queue: str, limit: int) -> Iterator[tuple[int | None, list[_Held], BlockingChannel | None]]:
        """The first ``limit`` messages of ``queue``'s dead-letter queue, and its depth (None: no such queue).

        Every message not acknowledged goes back to its place when the channel closes.
        """
        channel = self.connection.channel()
        try:
            try:
                depth = channel.queue_declare(queue + XQ, passive=True).method.message_count
            except ChannelClosedByBroker:
                yield None, [], None
                return
            held: list[_Held] = []
            while len(held) < limit:
                method, properties, body = channel.basic_get(queue + XQ, auto_ack=False)
                if method is None:
                    break
                held.append(_Held(queue, body, _x_death_time(properties), tag=method.delivery_tag))
            yield depth, held, channel
        finally:
            if channel.is_open:
                channel.close()

    @staticmethod
    def move(channel: BlockingChannel | None, held: _Held, target: str) -> None:
        assert channel is not None
        channel.confirm_delivery()
        # Confirmed and mandatory: an error here means the queue does not have it, and the dead letter stays.
        channel.basic_publish(
            exchange="",
            routing_key=target,
            body=held.body,
            properties=pika.BasicProperties(delivery_mode=2),
            mandatory=True,
        )
        channel.basic_ack(held.tag)


class _Stub:
    """The embedded default's in-process broker, whose dead letters are a list per queue."""

    def __init__(self, broker: StubBroker) -> None:
        self.broker = broker

    def close(self) -> None:
        pass

    @contextmanager
    def holding(self, queue: str, limit: int) -> Iterator[tuple[int | None, list[_Held], Any]]:
        if queue not in self.broker.queues:
            yield None, [], None
            return
        letters = list(self.broker.dead_letters_by_queue.get(queue, []))
        held = [_Held(queue, proxy._message.encode(), None, proxy=proxy) for proxy in letters[:limit]]
        yield len(letters), held, None

    def move(self, channel: Any, held: _Held, target: str) -> None:
        # In process there is no delay queue to go back to: the queue itself.
        self.broker.enqueue(held.proxy._message.copy(queue_name=held.queue))
        self.broker.dead_letters_by_queue[held.queue].remove(held.proxy)


def _source(broker: dramatiq.Broker) -> _Rabbit | _Stub:
    if isinstance(broker, RabbitmqBroker):
        return _Rabbit(broker)
    if isinstance(broker, StubBroker):
        return _Stub(broker)
    raise TypeError(f"no dead letters to read from a {type(broker).__name__}")


@contextmanager
def _readers_turn(engine: Engine) -> Iterator[None]:
    """Hold the readers' lock for as long as the block runs (its own transaction, never committed)."""
    with engine.connect() as connection:
        connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": READERS_LOCK})
        try:
            yield
        finally:
            connection.rollback()


def _describe(held: _Held) -> tuple[str | None, str | None, str | None]:
    """The message id, actor and run id the body names (the id derived as the worker derives it)."""
    fields = held.fields
    if fields is None:
        return None, None, None
    kwargs = fields.get("kwargs")
    run_id = kwargs.get("run_id") if isinstance(kwargs, dict) else None
    actor = fields.get("actor_name")
    return (
        message_id_of(held.body),
        actor if isinstance(actor, str) else None,
        run_id if isinstance(run_id, str) and len(run_id) <= 100 else None,
    )


def list_dead_letters(engine: Engine, broker: dramatiq.Broker, queues: Sequence[str], *, limit: int) -> DeadLetters:
    """The messages of every ``<queue>.XQ`` of ``queues``, at most ``limit`` in all, in queue order."""
    if not 1 <= limit <= MAX_LIST:
        raise ValueError(f"limit must be 1 to {MAX_LIST}, got {limit}")
    depths: dict[str, int] = {}
    found: list[_Held] = []
    with _readers_turn(engine):
        source = _source(broker)
        try:
            for queue in queues:
                with source.holding(queue, limit - len(found)) as (depth, taken, _):
                    if depth is not None:
                        depths[queue] = depth
                    found.extend(taken)
        finally:
            source.close()
    described = [(h, *_describe(h)) for h in found]
    ids = [d[1] for d in described if d[1]]
    with engine.connect() as connection:
        ledger = _ledger(connection, ids)
    letters = []
    for held, message_id, actor, run_id in described:
        step, event, replayed_at = ledger.get(message_id or "", (None, None, None))
        letters.append(
            DeadLetter(
                message_id=message_id,
                queue=held.queue,
                actor=actor,
                run_id=run_id,
                dead_lettered_at=held.dead_at or (event.at if event else step.finished_at if step else None),
                reason=(event.detail if event else step.error if step else None)
                or (None if message_id else "the body is not a message (not JSON)"),
                status=step.status if step else None,
                replayed_at=replayed_at,
            )
        )
    return DeadLetters(letters=letters, depths=depths, truncated=sum(depths.values()) > len(letters))


def _ledger(connection: Connection, ids: list[str]) -> dict[str, tuple[Any, Any, datetime | None]]:
    """For each id: its step row, its last event saying why it was dead-lettered, and when it was replayed."""
    if not ids:
        return {}
    steps = {
        r.message_id: r
        for r in connection.execute(
            text("SELECT message_id, status, error, finished_at FROM jobs.steps WHERE message_id = ANY(:ids)"),
            {"ids": ids},
        )
    }
    events = {
        r.message_id: r
        for r in connection.execute(
            text(
                "SELECT DISTINCT ON (message_id) message_id, kind, detail, at FROM jobs.events "
                "WHERE message_id = ANY(:ids) AND kind = ANY(:kinds) ORDER BY message_id, at DESC, id DESC"
            ),
            {"ids": ids, "kinds": list(REASONS)},
        )
    }
    replays = {
        r.message_id: r.at
        for r in connection.execute(
            text("SELECT message_id, at FROM jobs.events WHERE kind = 'replayed' AND message_id = ANY(:ids)"),
            {"ids": ids},
        )
    }
    return {i: (steps.get(i), events.get(i), replays.get(i)) for i in ids}


def replay_dead_letter(
    control: RunControl, queues: Sequence[str], message_id: str, *, operator: str, reason: str
) -> Replayed:
    """Move one dead letter back to its queue, once; raises NoSuchDeadLetter, AlreadyReplayed, NotReplayable."""
    check_message_id(message_id)
    engine, broker = control.engine, control.broker
    with _readers_turn(engine):
        _refuse_if_replayed(engine, message_id)
        source = _source(broker)
        try:
            for queue in _likely_first(engine, message_id, queues):
                with source.holding(queue, MAX_LIST) as (_, held, channel):
                    match = next((h for h in held if message_id_of(h.body) == message_id), None)
                    if match is not None:
                        return _replay(control, source, channel, match, message_id, operator, reason)
        finally:
            source.close()
    raise NoSuchDeadLetter(f"no dead letter {message_id} in the dead-letter queues (GET /api/v1/dead-letters)")


def _refuse_if_replayed(engine: Engine, message_id: str) -> None:
    with engine.connect() as connection:
        before = connection.execute(
            text("SELECT at, operator FROM jobs.events WHERE kind = 'replayed' AND message_id = :m"), {"m": message_id}
        ).first()
    if before is not None:
        raise AlreadyReplayed(
            f"message {message_id} was replayed at {before.at.isoformat()} by {before.operator}: "
            "a dead letter is replayed once"
        )


def _likely_first(engine: Engine, message_id: str, queues: Sequence[str]) -> list[str]:
    """The ledger's queue for the message first: the others are read only if it is not there."""
    with engine.connect() as connection:
        recorded = connection.execute(
            text(
                "SELECT queue FROM jobs.steps WHERE message_id = :m UNION "
                "SELECT queue FROM jobs.events WHERE message_id = :m AND queue IS NOT NULL"
            ),
            {"m": message_id},
        ).scalars()
        first = [q for q in recorded if q in queues]
    return first + [q for q in queues if q not in first]


def _replay(
    control: RunControl,
    source: _Rabbit | _Stub,
    channel: Any,
    held: _Held,
    message_id: str,
    operator: str,
    reason: str,
) -> Replayed:
    fields = held.fields
    actor = fields.get("actor_name") if fields else None
    if fields is None or not isinstance(actor, str):
        raise NotReplayable(f"dead letter {message_id} is not a message this service can run: it would be refused")
    # A message dead-lettered from its delay queue goes back there, to wait for its time again.
    target = held.queue + DQ if fields.get("queue_name") == held.queue + DQ else held.queue
    with control.engine.begin() as connection:
        run_id, reopened = _prepare_run(connection, control, fields, message_id)
        step = connection.execute(
            text(
                "UPDATE jobs.steps s SET status = 'queued', rank = 0, deliveries = 0, enqueued_at = now(), "
                "  started_at = NULL, heartbeat_at = NULL, finished_at = NULL, duration_ms = NULL, error = NULL, "
                "  worker = NULL "
                "FROM jobs.steps old WHERE s.message_id = :m AND old.message_id = s.message_id AND old.created_on = s.created_on "
                "  AND old.status = ANY(:final) "
                "RETURNING old.status, old.error, old.finished_at, old.deliveries, old.rank"
            ),
            {"m": message_id, "final": list(FINAL)},
        ).first()
        claimed = connection.execute(
            text(
                # Replay once: a second claim of the message conflicts in jobs.replays (kept for ever, unlike
                # the week of events its event is in), and no event is written for it.
                "WITH claim AS (INSERT INTO jobs.replays (message_id, event_id) "
                "  VALUES (:m, nextval('jobs.events_id_seq')) ON CONFLICT DO NOTHING RETURNING event_id) "
                "INSERT INTO jobs.events (id, kind, job, actor, queue, run_id, message_id, detail, operator, reason) "
                "SELECT event_id, 'replayed', :job, :actor, :queue, CAST(:run AS uuid), :m, :detail, :operator, :reason "
                "FROM claim RETURNING id"
            ),
            {
                "job": _job_of(control.broker, actor),
                "actor": actor,
                "queue": held.queue,
                "run": run_id,
                "m": message_id,
                "detail": f"replayed from {held.queue}{XQ} to {target} by {operator}"
                + ("; its run runs again" if reopened else ""),
                "operator": operator,
                "reason": reason,
            },
        ).scalar()
        if claimed is None:
            raise AlreadyReplayed(f"message {message_id} was replayed by someone else just now")
    try:
        source.move(channel, held, target)
    except Exception as e:
        _undo(control, message_id, claimed, step, run_id if reopened else None, e)
        raise
    logger.warning("dead letter %s of %s replayed to %s by %s: %s", message_id, actor, target, operator, reason)
    return Replayed(message_id=message_id, queue=target, actor=actor, run_id=run_id)


def _job_of(broker: dramatiq.Broker, actor: str) -> str | None:
    try:
        job: str | None = broker.get_actor(actor).options.get("job_name")
    except dramatiq.errors.ActorNotFound:
        return None
    return job


def _prepare_run(
    connection: Connection, control: RunControl, fields: dict[str, Any], message_id: str
) -> tuple[str | None, bool]:
    """Make the message's run take it again; its run id and whether the run was reopened."""
    try:
        options = control.broker.get_actor(fields["actor_name"]).options
    except dramatiq.errors.ActorNotFound:
        return None, False  # dead-lettered again as for no actor, unless the service has it by now
    role = options.get("step_role")
    kwargs = fields.get("kwargs")
    run_id = kwargs.get("run_id") if isinstance(kwargs, dict) else None
    if role not in (STEP, CHILD) or not isinstance(run_id, str):
        return None, False
    try:
        run_id = str(uuid.UUID(run_id))
    except ValueError:
        return None, False  # dead-lettered again as a bad message: nothing of a run to prepare
    job, index = options["job_name"], options["step_index"]
    run = connection.execute(
        text("SELECT job, status, step_index FROM jobs.runs WHERE run_id = CAST(:r AS uuid) FOR UPDATE"),
        {"r": run_id},
    ).first()
    if run is None or run.job != job:
        raise NotReplayable(f"dead letter {message_id}: its run {run_id} is not a run of {job} (a stray)")
    if role == STEP:
        if run.status != "failed" or run.step_index != index:
            raise NotReplayable(
                f"dead letter {message_id}: run {run_id} is {run.status} at step {run.step_index}, so its step "
                f"{index} cannot run again (retry the run or start a new one)"
            )
        reopen(connection, run_id)
        if control.jobs[job].steps[index].fan_out is not None:
            forget_fan_out(connection, run_id, index)
        return run_id, True
    fired = connection.execute(
        text("SELECT fired_at FROM jobs.barriers WHERE run_id = CAST(:r AS uuid) AND step_index = :i FOR UPDATE"),
        {"r": run_id, "i": index},
    ).scalar()
    waiting = run.status == "running" and fired is None
    if run.step_index != index or not (waiting or run.status == "failed"):
        raise NotReplayable(
            f"dead letter {message_id}: run {run_id} is {run.status} and has moved past the fan-in of step {index}, "
            "so this child cannot count again (start a new run)"
        )
    if run.status == "failed":
        reopen(connection, run_id)  # before the child is forgotten: it reads the fan-in's counts
    if not forget_failed_child(connection, run_id, index, message_id):
        raise NotReplayable(f"dead letter {message_id}: run {run_id} has no failed arrival of this child to undo")
    return run_id, run.status == "failed"


def _undo(
    control: RunControl, message_id: str, event_id: int, step: Any, reopened: str | None, error: Exception
) -> None:
    """The publish failed and the dead letter stays: the ledger says so again, and a replay may be tried again."""
    logger.error("dead letter %s could not be replayed: %s", message_id, error)
    with control.engine.begin() as connection:
        connection.execute(text("DELETE FROM jobs.events WHERE id = :id"), {"id": event_id})
        connection.execute(text("DELETE FROM jobs.replays WHERE message_id = :m"), {"m": message_id})
        if step is not None:
            connection.execute(
                text(
                    "UPDATE jobs.steps SET status = :status, error = :error, finished_at = :finished, "
                    "deliveries = :deliveries, rank = :rank WHERE message_id = :m AND status = 'queued'"
                ),
                {
                    "m": message_id,
                    "status": step.status,
                    "error": step.error,
                    "finished": step.finished_at,
                    "deliveries": step.deliveries,
                    "rank": step.rank,
                },
            )
    if reopened is not None:
        control.fail(reopened, f"its dead letter {message_id} was to be replayed, but could not be published: {error}")
