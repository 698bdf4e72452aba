"""What the message lifecycle middlewares share: a message's role, run and queue,
and the marks they leave on it for one another.

Dramatiq hands every middleware the same message proxy, so a middleware tells
the ones after it what it did by setting an attribute on it:

- ``_ledger_started``, ``_ledger_started_at``, ``_ledger_attempt``: when and
  as which attempt it started (recording.py, before Retries changes it);
- ``_ledger_running_recorded``: its start check recorded it running, so the
  heartbeat need only beat for it (start_checks.py);
- ``_ledger_deliveries``, ``_ledger_poison``: which delivery of its attempt
  this is, and, when over the limit, how many went before (delivery_limit.py);
- ``_ledger_handled``: refused before it ran and recorded by what refused it
  (start_checks.py, signing.py): nothing else records it or reacts to it;
- ``_ledger_recorded``: its end is recorded, so a nack need not be.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dramatiq

from .errors import BadMessage

# The roles of actors that belong to a run; anything else (ticks, starts) has no run to react to.
STEP, CHILD = "step", "child"

# The option a step or child message carries its run's start in (integer microseconds since the
# epoch, as exact as timestamptz): the partition key of its run and barriers (runs.py).
RUN_STARTED_AT = "run_started_at"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

# Dramatiq's MessageProxy: typed loosely because the middlewares add their marks to it.
Message = Any


def utcnow() -> datetime:
    return datetime.now(UTC)


def base_queue(name: str) -> str:
    return name[:-3] if name.endswith((".DQ", ".XQ")) else name


def describe(exception: BaseException | None) -> str | None:
    if exception is None:
        return None
    text = str(exception)
    return f"{type(exception).__name__}: {text}" if text else type(exception).__name__


def is_bad_message(exception: BaseException) -> bool:
    return isinstance(exception, BadMessage)


def actor_options(broker: dramatiq.Broker, message: Message) -> dict[str, Any]:
    """The options of the message's actor; none for a message of no known actor."""
    try:
        return broker.get_actor(message.actor_name).options
    except dramatiq.errors.ActorNotFound:
        return {}


def created_on(message: Message) -> date:
    """The UTC day of the message's timestamp: its ``jobs.steps`` partition key.

    Dramatiq keeps the timestamp across retries, delays and redeliveries, so
    every event of a message falls on the same day and updates one row.
    """
    return datetime.fromtimestamp(int(message.message_timestamp) / 1000, UTC).date()


def attempt_of(message: Message) -> int:
    """The attempt the message started as: Retries counts the next one before the end is recorded."""
    started_as: int | None = getattr(message, "_ledger_attempt", None)
    return started_as if started_as is not None else int(message.options.get("retries", 0)) + 1


# The longest way of writing a UUID: "urn:uuid:" and 36 characters.
MAX_UUID_TEXT = 45


def valid_run_id(message: Message) -> str | None:
    """The message's run id if it is one: a malformed message must not break the ledger."""
    run_id = message.kwargs.get("run_id") if isinstance(message.kwargs, dict) else None
    if not run_id:
        return None
    text = str(run_id)
    # Anything longer is kept out of the cache, which holds only short strings however large a message's
    # run id is.
    return _canonical_uuid(text) if len(text) <= MAX_UUID_TEXT else None


@functools.lru_cache(maxsize=1024)
def _canonical_uuid(text: str) -> str | None:
    # Every middleware asks for each message's run id, and a fan-out's thousands of children share one.
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def run_started_micros(started_at: datetime) -> int:
    """A run's start as the ``run_started_at`` option carries it (integer arithmetic: exact)."""
    return (started_at - EPOCH) // MICROSECOND


def run_started_at(options: Any) -> datetime | None:
    """The run's start a message's options carry, or None (a message published before the option existed).

    Anything but an integer is read as absent: the statements then find the run by its id alone.
    """
    value = options.get(RUN_STARTED_AT) if isinstance(options, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return EPOCH + value * MICROSECOND
    except OverflowError:
        return None
