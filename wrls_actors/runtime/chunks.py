"""A chunk of a fan-out's items in one message, done set-based, with each item's failure its own.

A chunked child's function gets up to N items (``StepContext.items``) and
does them together, in one transaction. When that raises, the items are
split in two and each half tried again, down to single items: the call on
one item that still raises names that item's failure, and the other items
are done. One bad item among 100 costs about 2 x log2(100) = 14 calls; a
chunk whose items all fail for the same reason costs one call per halving
before its first single item.

A single item's failure is final at once when the error says retrying
cannot help (PermanentError, BadMessage), or on the message's last attempt.
Any other error, on an earlier attempt, fails the whole message, which
Dramatiq retries with its backoff as for any step: the items already done
are done again, which is why the function must be idempotent (it then
writes nothing new).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from .errors import BadMessage, PermanentError
from .lifecycle import describe

# How much of an item a failure keeps to name it (the item is the fan-out step's own value).
MAX_ITEM_CHARS = 200


@dataclasses.dataclass(frozen=True)
class ItemFailure:
    """An item of a chunk that failed for good: its position in the fan-out, the item and why."""

    position: int
    item: Any
    error: str

    def as_json(self) -> dict[str, Any]:
        return {"position": self.position, "item": self.item, "error": self.error}


@dataclasses.dataclass
class ChunkOutcome:
    counts: Counter[str] = dataclasses.field(default_factory=Counter)
    failures: list[ItemFailure] = dataclasses.field(default_factory=list)
    calls: int = 0


def run_chunk(
    do: Callable[[list[Any]], Counter[str]],
    items: Sequence[Any],
    first: int,
    *,
    last_attempt: bool,
) -> ChunkOutcome:
    """Do ``items`` (at positions ``first``...) by ``do``, which returns the counts of a call that succeeded.

    Raises the error of a single item that may be retried, when this is not
    the message's last attempt.
    """
    outcome = ChunkOutcome()
    # Depth first, left half first: items are done (and fail) in their order.
    pending: list[tuple[int, list[Any]]] = [(first, list(items))]
    while pending:
        start, part = pending.pop()
        outcome.calls += 1
        try:
            counts = do(part)
        except Exception as e:
            if len(part) > 1:
                middle = len(part) // 2
                pending.append((start + middle, part[middle:]))
                pending.append((start, part[:middle]))
                continue
            if not (last_attempt or isinstance(e, PermanentError | BadMessage)):
                raise
            outcome.failures.append(ItemFailure(start, part[0], describe(e) or type(e).__name__))
            continue
        outcome.counts.update(counts)
    return outcome


def name_item(item: Any) -> str:
    """An item as a note names it: a string as it is, anything else as JSON, cut short."""
    text = item if isinstance(item, str) else json.dumps(item, sort_keys=True, default=str)
    return text if len(text) <= MAX_ITEM_CHARS else text[: MAX_ITEM_CHARS - 1] + "…"
