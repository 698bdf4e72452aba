"""Checks at start: nothing may outlast RabbitMQ's consumer timeout.

RabbitMQ closes a channel whose message stays unacked longer than its
``consumer_timeout`` and redelivers everything on it, while the slow thread
runs on: duplicates in a loop. A step's time limit, its retry backoff and any
delay (all held unacked by the worker) must therefore stay below it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dramatiq

from .errors import ConfigurationError

# Dramatiq's defaults where an actor sets nothing.
DEFAULT_TIME_LIMIT_MS = 600_000
DEFAULT_MAX_BACKOFF_MS = 7 * 24 * 3600 * 1000


def unsafe_actors(
    actors: Iterable[dramatiq.Actor[..., Any]], consumer_timeout_s: int, retries_max_backoff_ms: int
) -> list[str]:
    """One line per actor option that reaches the consumer timeout."""
    limit_ms = consumer_timeout_s * 1000
    problems = []
    for actor in actors:
        time_limit = actor.options.get("time_limit", DEFAULT_TIME_LIMIT_MS)
        if time_limit is None or time_limit <= 0 or time_limit >= limit_ms:
            problems.append(
                f"{actor.actor_name}: time limit {time_limit} ms is not below the consumer timeout {limit_ms} ms"
            )
        backoff = actor.options.get("max_backoff", retries_max_backoff_ms)
        if backoff >= limit_ms:
            problems.append(
                f"{actor.actor_name}: max backoff {backoff} ms is not below the consumer timeout {limit_ms} ms"
            )
    return problems


def check(broker: dramatiq.Broker, consumer_timeout_s: int) -> None:
    from dramatiq.middleware import Retries

    retries = next((m for m in broker.middleware if isinstance(m, Retries)), None)
    max_backoff = retries.max_backoff if retries else DEFAULT_MAX_BACKOFF_MS
    actors = [broker.get_actor(name) for name in sorted(broker.get_declared_actors())]
    problems = unsafe_actors(actors, consumer_timeout_s, max_backoff)
    if problems:
        raise ConfigurationError(
            "refusing to start: every time limit and backoff must stay below RabbitMQ's consumer_timeout "
            f"({consumer_timeout_s}s):\n  " + "\n  ".join(problems)
        )
