"""Waiting longer than one attempt may last: wait a slice, then retry the step later.

A step attempt must end before RabbitMQ's consumer timeout (30 minutes), or
the broker closes the channel. A step that waits for something (another job,
a file) waits at most one slice per attempt, then raises :class:`RetryLater`;
the next attempt goes on waiting. The bound of the whole wait is counted from
the run's start, by the ledger's clock, so retries and redeliveries do not
reset it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Generic, TypeVar

from .errors import RetryLater

#: Longest wait within one step attempt: well below RabbitMQ's 30-minute consumer timeout.
SLICE_S = 20 * 60

B = TypeVar("B")


def retries_for(bound_s: float, slice_s: float = SLICE_S, spare: int = 3) -> int:
    """Retries a waiting step needs to reach ``bound_s``, plus ``spare`` for transient errors."""
    return math.ceil(bound_s / slice_s) + spare


@dataclasses.dataclass(frozen=True)
class Waited(Generic[B]):
    """How a wait ended: the run's age then, whether this attempt waited, and the last thing it waited for."""

    run_age_s: float
    waited_here: bool
    awaited: B | None


def wait_in_slices(
    blocker: Callable[[], B | None],
    run_age: Callable[[], float],
    *,
    bound_s: float,
    poll_s: float = 5,
    slice_s: float = SLICE_S,
    on_wait: Callable[[B], None] = lambda b: None,
    timed_out: Callable[[B, float], Exception],
) -> Waited[B]:
    """Poll ``blocker`` until it returns None; return how the wait ended.

    ``blocker`` returns what is still waited for (its ``str`` names it in
    messages); ``on_wait`` is told each time that changes. Once the run's age
    reaches ``bound_s`` the exception ``timed_out(blocker, age)`` is raised;
    once this attempt has waited ``slice_s``, :class:`RetryLater` (after
    ``poll_s``).
    """
    began = time.monotonic()
    awaited: B | None = None
    waited_here = False
    while True:
        age = run_age()
        waiting_for = blocker()
        if waiting_for is None:
            return Waited(age, waited_here, awaited)
        if waiting_for != awaited:
            on_wait(waiting_for)
            awaited = waiting_for
        waited_here = True
        if age >= bound_s:
            raise timed_out(waiting_for, age)
        left_in_slice = slice_s - (time.monotonic() - began)
        if left_in_slice <= 0:
            raise RetryLater(
                f"still waiting for {waiting_for} after {age:.0f}s; the wait goes on in a retry",
                delay=timedelta(seconds=poll_s),
            )
        time.sleep(max(0.05, min(poll_s, bound_s - age, left_in_slice)))
