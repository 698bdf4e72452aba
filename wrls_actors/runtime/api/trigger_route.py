"""A route that starts a job and answers the way an older caller expects.

An application keeps its old HTTP callers working by declaring one
``TriggerRoute`` per old route: the method and path, the job it starts, how
the request's query and body become the job's parameters, and the status and
body of the old answer. The runtime serves them beside /api/v1 (they are not in
its OpenAPI document) with the same authentication, and refuses in the old
error shape (problems.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any


class RouteInputError(ValueError):
    """A query or body value a trigger route cannot take: answered 400 naming ``field``."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclasses.dataclass(frozen=True)
class RouteInput:
    """What a trigger route reads of its request: the query, and the body parsed (JSON or a form), or None."""

    query: Mapping[str, str]
    body: Any


def no_params(_: RouteInput) -> dict[str, Any]:
    return {}


@dataclasses.dataclass(frozen=True)
class TriggerRoute:
    """``method`` ``path`` starts ``job`` with ``params(input)`` and answers ``status`` with ``body``.

    ``openable``: the route may be answered without a token when the service
    is configured to (``API_OPEN_JOB_ROUTES``), as routes of apps that had no
    authentication were. ``content_type`` goes with a non-empty ``body``.
    """

    method: str
    path: str
    job: str
    status: int = 202
    body: bytes = b""
    content_type: str | None = None
    params: Callable[[RouteInput], dict[str, Any]] = no_params
    openable: bool = False
    summary: str = ""
