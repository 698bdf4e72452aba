"""Retrying a failed run, an operator's action: from the step it failed at, or only its failed fan-out children.

The run goes back to ``running`` at the step it failed at, in one
transaction with the ledger made ready for it; then that step's message is
published again. What was done stays done:
- **from its failed step**: the step runs again; if it fans out, its fan-out
  starts afresh (the old barrier, arrivals and children's rows go).
- **only its failed children**: the run failed at a fan-in whose failed
  children fail the run. Their arrivals go, so the fan-out step runs again and
  publishes only the children that have not arrived (runs.py ``fan_out``): the
  failed ones. It must return the same items.

The step's and the children's old rows are removed, so their attempts and
delivery counts start again; their errors stay in the ledger's events. The
counts the run added from its fan-ins when it ended are taken off, since it
adds them again when it ends. Only a run that ended ``failed`` is retried: one
that completed ran its later steps, and is started anew instead.
"""

from __future__ import annotations

import json
import logging

from sqlalchemy import Connection, text

from .database import record_action
from .errors import JobRefused, NoSuchRun
from .runs import RunControl, run_id_or_refuse, step_message_id

logger = logging.getLogger(__name__)


class NotRetryable(JobRefused):
    """Raised when a run cannot be retried the way asked (not failed, or no failed children where it stopped)."""


def retry(control: RunControl, run_id: str, operator: str, reason: str, *, failed_children_only: bool) -> int:
    """Retry a failed run; returns how many children will run again (0 when retried from its step)."""
    run_id = run_id_or_refuse(run_id)
    with control.engine.connect() as connection:
        run = connection.execute(
            text(
                "SELECT job, status, step_index, params, started_at FROM jobs.runs WHERE run_id = CAST(:r AS uuid) FOR UPDATE"
            ),
            {"r": run_id},
        ).first()
        if run is None:
            raise NoSuchRun(f"no run {run_id}")
        if run.status != "failed":
            raise NotRetryable(f"run {run_id} is {run.status}: only a failed run is retried (start a new one)")
        job = control.jobs.get(run.job)
        if job is None:
            raise NotRetryable(f"run {run_id} is a run of {run.job}, which this service does not have")
        index = run.step_index
        step = job.steps[index]
        # First: the fan-in counts it took are read from the barriers forgotten below.
        reopen(connection, run_id)
        if failed_children_only:
            again = _forget_failed_children(connection, run_id, index)
            if not again:
                raise NotRetryable(
                    f"run {run_id} did not fail at a fan-in with failed children: retry it from its failed step"
                )
            what = f"its {again} failed {step.fan_out.name if step.fan_out else ''} items of step {step.name}"
        else:
            again = 0
            _forget_fan_out(connection, run_id, index)
            what = f"from step {step.name}"
        # The step's message runs again under its own id: its old row would count as earlier deliveries.
        connection.execute(text("DELETE FROM jobs.steps WHERE message_id = :m"), {"m": step_message_id(run_id, index)})
        record_action(
            connection,
            "run-retried",
            operator=operator,
            reason=reason,
            detail=f"retried {what} by {operator}",
            job=run.job,
            run_id=run_id,
        )
        connection.commit()
    try:
        control.publish_step(job, run_id, index, run.params, run.started_at)
    except Exception as e:
        control.fail(run_id, f"retried by {operator}, but its step could not be published: {e}")
        raise
    logger.warning("run %s retried %s by %s: %s", run_id, what, operator, reason, extra={"run_id": run_id})
    return again


def reopen(connection: Connection, run_id: str) -> None:
    """A failed run running again at the step it failed at (its row locked by the caller).

    Before any barrier of it is forgotten: the counts its fan-ins added when it ended are read from them.
    """
    _take_off_fan_in_counts(connection, run_id)
    connection.execute(
        text(
            "UPDATE jobs.runs SET status = 'running', finished_at = NULL, error = NULL, children_failed = 0 "
            "WHERE run_id = CAST(:r AS uuid)"
        ),
        {"r": run_id},
    )


def forget_fan_out(connection: Connection, run_id: str, index: int) -> None:
    """The step at ``index`` fans out afresh when it runs again."""
    _forget_fan_out(connection, run_id, index)


def forget_failed_child(connection: Connection, run_id: str, index: int, message_id: str) -> bool:
    """One failed child not arrived any more, so it counts when it runs again; False if it had not failed."""
    gone = connection.execute(
        text(
            "DELETE FROM jobs.barrier_arrivals WHERE run_id = CAST(:r AS uuid) AND step_index = :i "
            "AND message_id = :m AND failed RETURNING items, failed_items"
        ),
        {"r": run_id, "i": index, "m": message_id},
    ).first()
    if gone is None:
        return False
    _uncount(connection, run_id, index, gone.items, gone.failed_items)
    return True


def _uncount(connection: Connection, run_id: str, index: int, items: int, failed_items: int) -> None:
    """Forgotten arrivals' items no longer count at their barrier, which fires again once they arrive."""
    connection.execute(
        text(
            "UPDATE jobs.barriers SET arrived = arrived - :n, failed = failed - :f, fired_at = NULL, counts = '{}' "
            "WHERE run_id = CAST(:r AS uuid) AND step_index = :i"
        ),
        {"r": run_id, "i": index, "n": items, "f": failed_items},
    )


def _take_off_fan_in_counts(connection: Connection, run_id: str) -> None:
    """Ending, the run added every fan-in's counts to its own; it adds them again when it ends."""
    totals: dict[str, float] = {}
    for (counts,) in connection.execute(
        text("SELECT counts FROM jobs.barriers WHERE run_id = CAST(:r AS uuid)"), {"r": run_id}
    ):
        for key, value in (counts or {}).items():
            # Whole counts stay whole: a float here would turn the run's 5 into 5.0 once added back.
            totals[key] = totals.get(key, 0) - (value if isinstance(value, int | float) else float(value))
    if totals:
        connection.execute(
            text(
                "UPDATE jobs.runs SET counts = jobs.jsonb_add(counts, CAST(:neg AS jsonb)) WHERE run_id = CAST(:r AS uuid)"
            ),
            {"r": run_id, "neg": json.dumps(totals)},
        )


def _forget_failed_children(connection: Connection, run_id: str, index: int) -> int:
    """The arrivals with failed items go (a chunk's items that did not fail run again too: its work is
    idempotent); returns how many items will run again."""
    rows = connection.execute(
        text(
            "DELETE FROM jobs.barrier_arrivals WHERE run_id = CAST(:r AS uuid) AND step_index = :i "
            "AND failed_items > 0 RETURNING message_id, items, failed_items"
        ),
        {"r": run_id, "i": index},
    ).all()
    if not rows:
        return 0
    _uncount(connection, run_id, index, sum(r.items for r in rows), sum(r.failed_items for r in rows))
    connection.execute(
        text("DELETE FROM jobs.steps WHERE message_id = ANY(:ids)"), {"ids": [r.message_id for r in rows]}
    )
    return sum(r.items for r in rows)


def _forget_fan_out(connection: Connection, run_id: str, index: int) -> None:
    """The step fans out afresh: its barrier, its arrivals and its children's rows go."""
    children = list(
        connection.execute(
            text("SELECT message_id FROM jobs.barrier_arrivals WHERE run_id = CAST(:r AS uuid) AND step_index = :i"),
            {"r": run_id, "i": index},
        ).scalars()
    )
    connection.execute(
        text("DELETE FROM jobs.barrier_arrivals WHERE run_id = CAST(:r AS uuid) AND step_index = :i"),
        {"r": run_id, "i": index},
    )
    connection.execute(
        text("DELETE FROM jobs.barriers WHERE run_id = CAST(:r AS uuid) AND step_index = :i"), {"r": run_id, "i": index}
    )
    if children:
        connection.execute(text("DELETE FROM jobs.steps WHERE message_id = ANY(:ids)"), {"ids": children})
