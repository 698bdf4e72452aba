"""Steps list-tasks and run-task: the five clean-up tasks, one fan-out child each.

Each task is a child of its own, so one failing (after its retries) fails
alone: the others run to the end, and the report step names it. Children
run side by side, not in the legacy's order, so a contact freed by today's
incomplete company contacts is deleted as an orphan by the next run.
"""

from __future__ import annotations

from collections.abc import Callable

from ...runtime import StepContext
from ..errors import PermanentJobError
from .empty_bill_runs import delete_empty_bill_runs
from .expired_sessions import delete_expired_sessions
from .incomplete_company_contacts import delete_incomplete_company_contacts
from .orphaned_contacts import delete_orphaned_contacts
from .void_return_logs import delete_void_return_logs

# In this order: the report names a failed child by its position.
TASKS: dict[str, Callable[[StepContext], None]] = {
    "empty-bill-runs": delete_empty_bill_runs,
    "void-return-logs": delete_void_return_logs,
    "expired-sessions": delete_expired_sessions,
    "incomplete-company-contacts": delete_incomplete_company_contacts,
    "orphaned-contacts": delete_orphaned_contacts,
}


def list_tasks(ctx: StepContext) -> list[str]:
    return list(TASKS)


def run_task(ctx: StepContext) -> None:
    task = TASKS.get(ctx.item)
    if task is None:
        raise PermanentJobError(f"clean has no task {ctx.item!r} (it has {', '.join(TASKS)})")
    task(ctx)
