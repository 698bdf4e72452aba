"""The Runs page's filters, read from the URL (so a link can be shared) and checked one by one."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, get_args

from sqlalchemy import Connection

from ..api.models import RunStatus, RunSummary, Trigger
from ..api.reads import BadCursor, decode_cursor, runs_page
from .web import Refused

STATUSES = get_args(RunStatus)
TRIGGERS = get_args(Trigger)
FIELDS = ("job", "status", "trigger", "since", "until")
MAX_CURSOR_CHARS = 200


@dataclasses.dataclass(frozen=True)
class RunFilter:
    job: str | None = None
    status: str | None = None
    trigger: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    # As given, for the form and the links: a moment typed without a zone stays as typed.
    given: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def as_query(self) -> dict[str, str]:
        return {k: v for k, v in self.given.items() if v}

    def page(self, connection: Connection, cursor: str | None, limit: int) -> tuple[list[RunSummary], str | None]:
        """A page of the runs this filter finds, newest first, and the next page's cursor (api/reads.py)."""
        return runs_page(
            connection,
            job=self.job,
            status=self.status,
            trigger=self.trigger,
            since=self.since,
            until=self.until,
            cursor=cursor,
            limit=limit,
        )


def read(params: Mapping[str, str], jobs: Mapping[str, Any], zone: tzinfo) -> tuple[RunFilter, str | None]:
    """The filter and the cursor of ``params``; Refused (400) naming the first field that is not valid."""
    given = {name: (params.get(name) or "").strip() for name in FIELDS}
    job = given["job"] or None
    if job is not None and job not in jobs:
        raise Refused(400, f"job: there is no job {job[:100]!r}")
    status = given["status"] or None
    if status is not None and status not in STATUSES:
        raise Refused(400, f"status: one of {', '.join(STATUSES)}")
    trigger = given["trigger"] or None
    if trigger is not None and trigger not in TRIGGERS:
        raise Refused(400, f"trigger: one of {', '.join(TRIGGERS)}")
    since = moment("since", given["since"], zone) if given["since"] else None
    until = moment("until", given["until"], zone) if given["until"] else None
    if since and until and since >= until:
        raise Refused(400, "since: must be before until")
    cursor = params.get("cursor") or None
    if cursor is not None:
        try:
            if len(cursor) > MAX_CURSOR_CHARS:
                raise BadCursor("too long")
            decode_cursor(cursor)
        except BadCursor:
            raise Refused(400, "cursor: not a link this console gave out") from None
    return RunFilter(job, status, trigger, since, until, given), cursor


def moment(field: str, value: str, zone: tzinfo) -> datetime:
    """A date and time as a browser's datetime-local field sends it (in the service's zone), or with an offset."""
    try:
        if len(value) > 40:
            raise ValueError
        at = datetime.fromisoformat(value)
    except ValueError:
        raise Refused(400, f"{field}: a date and time such as 2026-01-31T08:00") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    try:
        return at.astimezone(UTC)
    except OverflowError:
        raise Refused(400, f"{field}: out of range") from None
