"""The message ids of a fan-out's children: derived from the run, the step and the item's position.

Derived, not random, so that a fan-out sent again (its message redelivered, or
retried by an operator) sends each child under the id it had, and the barrier
counts it once.

The children of one fan-out share the first 80 bits of their id (a uuid5 of
the run and the step) and count up in the last 48 by position. So they are
consecutive in the ledger's keys (``jobs.steps``, ``jobs.barrier_arrivals``):
a fan-out of 71,000 children writes a few hundred pages of its week's indexes,
in order, rather than one page each at random. With a year of history in the
ledger, random ids made every child dirty its own index page, each written
whole to the WAL at its first change after a checkpoint, which doubled the
WAL a fan-out wrote and cost a third of its throughput (bench/ledger_scale.py).

Runtimes before this derived each child's id as a uuid5 of its own
(``legacy_child_message_id``); the ledger keeps such ids for its retention,
and ``child_positions`` finds the positions of both kinds.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable

POSITION_BITS = 48
_POSITIONS = (1 << POSITION_BITS) - 1
# The bits uuid5 overwrites (version and variant): a SHA-1 digest matches a uuid5 with them cleared.
_UUID5_BITS = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)


def _prefix(run_id: uuid.UUID | str, index: int) -> int:
    return uuid.uuid5(uuid.UUID(str(run_id)), f"children:{index}").int >> POSITION_BITS


def child_message_id(run_id: uuid.UUID | str, index: int, position: int) -> str:
    """The id of the child at ``position`` of step ``index``'s fan-out."""
    if not 0 <= position <= _POSITIONS:
        raise ValueError(f"a fan-out's child position is 0 to {_POSITIONS}, got {position}")
    return str(uuid.UUID(int=_prefix(run_id, index) << POSITION_BITS | position))


def messages_of(items: int, chunk: int) -> int:
    """How many child messages a fan-out of ``items`` sends in chunks of ``chunk`` (the positions they take)."""
    return -(-items // chunk)


def child_position(run_id: uuid.UUID | str, index: int, message_id: str) -> int | None:
    """The position a child id of today's kind carries; None for an id of another kind."""
    try:
        value = uuid.UUID(message_id).int
    except ValueError:
        return None
    return value & _POSITIONS if value >> POSITION_BITS == _prefix(run_id, index) else None


def legacy_child_message_id(run_id: uuid.UUID | str, index: int, position: int) -> str:
    """A child's id as runtimes before ``child_message_id`` derived it."""
    return str(uuid.uuid5(uuid.UUID(str(run_id)), f"child:{index}:{position}"))


def child_positions(run_id: str, index: int, expected: int, message_ids: Iterable[str]) -> dict[str, int]:
    """The position of each of ``message_ids`` that is a child of the fan-out (of ``expected`` children).

    An id of today's kind reads its position off its last bits. An older one is
    found by deriving ids position by position: hashing the namespace once
    and comparing digests, since ``legacy_child_message_id`` per position took
    about a second for a 71,000-child fan-out. A match is confirmed with it, so
    the two can never disagree.
    """
    prefix = _prefix(run_id, index)
    found: dict[str, int] = {}
    older: dict[int, str] = {}
    for message_id in message_ids:
        try:
            value = uuid.UUID(message_id).int
        except ValueError:
            continue  # not a derived id: it has no position
        if value >> POSITION_BITS == prefix:
            if (value & _POSITIONS) < expected:
                found[message_id] = value & _POSITIONS
        else:
            older[value & _UUID5_BITS] = message_id
    if not older:
        return found
    namespace = hashlib.sha1(uuid.UUID(run_id).bytes, usedforsecurity=False)
    text = f"child:{index}:"
    wanted = len(older)
    for position in range(expected):
        if not wanted:
            break
        digest = namespace.copy()
        digest.update(f"{text}{position}".encode())
        candidate = older.get(int.from_bytes(digest.digest()[:16], "big") & _UUID5_BITS)
        if candidate is not None and legacy_child_message_id(run_id, index, position) == candidate:
            found[candidate] = position
            wanted -= 1
    return found
