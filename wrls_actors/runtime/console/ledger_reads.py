"""The console's own reads of the ledger, beyond the API's (api/reads.py): each a bounded, indexed query.

Each query is bounded by an index range (a job and a time, a partial index,
or the events' time), so a page's cost does not grow with the ledger's years.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

# Kinds of jobs.events that are incidents about a message refused or dead-lettered.
DEAD_LETTER_KINDS = ("dead-lettered", "rejected")


@dataclasses.dataclass(frozen=True)
class JobFigures:
    running: int = 0
    failed: int = 0  # of the runs started since ``since``
    stalls: int = 0


def job_figures(connection: Connection, jobs: Sequence[str], since: datetime) -> dict[str, JobFigures]:
    """Per job: runs going now, runs started since ``since`` that failed, stalls since ``since``.

    Failed runs are counted by their start (runs_job_started serves it); a run that started before and failed since
    is not, which for a day's window is the night before's import at most."""
    running: dict[str, int] = dict(
        connection.execute(text("SELECT job, count(*) FROM jobs.runs WHERE status = 'running' GROUP BY job")).all()
    )
    failed: dict[str, int] = dict(
        connection.execute(
            text(
                "SELECT job, count(*) FROM jobs.runs WHERE job = ANY(:jobs) AND started_at >= :since "
                "AND status = 'failed' GROUP BY job"
            ),
            {"jobs": list(jobs), "since": since},
        ).all()
    )
    stalls: dict[str, int] = dict(
        connection.execute(
            text("SELECT job, count(*) FROM jobs.events WHERE at >= :since AND kind = 'stalled' GROUP BY job"),
            {"since": since},
        ).all()
    )
    return {
        job: JobFigures(
            running=running.get(job, 0),
            failed=failed.get(job, 0),
            stalls=stalls.get(job, 0),
        )
        for job in jobs
    }


def incidents(connection: Connection, kinds: Sequence[str], since: datetime, limit: int = 200) -> list[Any]:
    """Events of ``kinds`` since ``since``, newest first."""
    return list(
        connection.execute(
            text(
                "SELECT id, at, kind, job, actor, queue, run_id::text AS run_id, message_id, detail FROM jobs.events "
                "WHERE at >= :since AND kind = ANY(:kinds) ORDER BY at DESC, id DESC LIMIT :limit"
            ),
            {"since": since, "kinds": list(kinds), "limit": limit},
        ).all()
    )
