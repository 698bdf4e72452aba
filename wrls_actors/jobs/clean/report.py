"""Step report: what the tasks deleted and which failed, kept as the run's note.

A failed task has already made the run end as completed-with-failures (the
fan-in counted it); this names it, with its error, in the run's note and log.
"""

from __future__ import annotations

from datetime import timedelta

from ...runtime import StepContext
from .tasks import TASKS

# The step that fans the tasks out.
TASKS_STEP = 0
# Attempts spent waiting for a failed task's error to reach the ledger; then it is reported without it.
WAIT_FOR_ERRORS = 3


def report(ctx: StepContext) -> None:
    names = list(TASKS)
    children = ctx.ledger.children(ctx.run_id, TASKS_STEP)
    deleted = {
        names[child.position]: sum(v for k, v in child.counts.items() if not k.endswith("_batches"))
        for child in children
        if child.status == "succeeded"
    }
    failed = {names[c.position]: c.error for c in children if c.status != "succeeded"}
    if any(error is None for error in failed.values()) and ctx.attempt <= WAIT_FOR_ERRORS:
        # The ledger writes a failure's step row a flush interval after the fan-in counted it.
        ctx.retry_later("a failed task's error is not in the ledger yet", timedelta(seconds=1))
    note = "deleted " + (", ".join(f"{n} {name}" for name, n in deleted.items()) or "nothing")
    if failed:
        note += "; failed: " + "; ".join(
            f"{name} ({(error or 'see its step')[:300]})" for name, error in failed.items()
        )
        ctx.logger.warning("clean: %d of %d tasks failed: %s", len(failed), len(names), ", ".join(failed))
    ctx.end_run(note)
