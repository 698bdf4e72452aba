"""Task void-return-logs: return logs voided before anything was received or submitted.

A log is voided when its licence's return requirements change (the NALD
import voids those NALD no longer has). Void, with no received date and no
submission, it carries nothing worth keeping. The legacy matched submissions
by ``return_log_id`` only; a submission linked by ``return_id`` alone (older
rows) keeps its log too.

Guarded (jobs/guards.py): a short NALD extract voids real logs, and this
would then delete them for good.
"""

from __future__ import annotations

from ...config import config
from ...runtime import StepContext
from .batches import count, delete_in_batches, guard

VOID = """
    SELECT r.return_id FROM returns.returns r
    WHERE r.status = 'void' AND r.received_date IS NULL
      AND NOT EXISTS (SELECT 1 FROM returns.versions v WHERE v.return_log_id = r.id OR v.return_id = r.return_id)
"""


def delete_void_return_logs(ctx: StepContext) -> None:
    settings = config()
    guard(ctx, "returns.returns", VOID, settings.max_delete_percent)
    deleted, batches = delete_in_batches(ctx.engine, "returns.returns", "return_id", VOID, settings.clean_batch_rows)
    count(ctx, "void_return_logs", deleted, batches)
