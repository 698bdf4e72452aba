"""Task empty-bill-runs: bill runs that found nothing to bill, deleted here and in the Charging Module.

For each bill run with status ``empty``, oldest first, a batch at a time:

1. the Charging Module's bill run (``external_id``) is deleted; one it does
   not hold (404) is taken as already gone;
2. then, in one transaction: the licences' supplementary years it had taken
   are released (``bill_run_id`` back to NULL, so the next bill run picks them
   up), its two-part tariff review results are deleted, then its transactions,
   bill licences, bills, charge version years and volumes, and the bill run.

The legacy set the status to ``cancel`` first and ran the Charging Module's
delete beside its own, ignoring its failure, which left bill runs orphaned in
the Charging Module. Here our rows go only once the Charging Module's are
gone: a bill run whose delete failed stays ``empty`` and the next run tries it
again. A Charging Module that does not answer (5xx, time-out) stops the task
at once (its retries, then the next run, cover it); one that refuses a bill
run (4xx) is skipped and named when the task fails at its end.

No deletion guard: what is deleted is chosen by the bill run's own status,
never by an import's input.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from ...config import config
from ...runtime import PermanentError, StepContext
from ..charging_module import ChargingModule
from ..errors import PermanentJobError

NEXT_BATCH = text("""
    SELECT billing_batch_id::text AS id, external_id::text AS external_id FROM water.billing_batches
    WHERE status = 'empty' AND billing_batch_id::text <> ALL(CAST(:skip AS text[]))
    ORDER BY date_created, billing_batch_id LIMIT :batch
""")

# Children before parents: the legacy tables' foreign keys (transactions -> bill licences) require it.
DELETIONS = tuple(
    text(sql)
    for sql in (
        "UPDATE water.licence_supplementary_years SET bill_run_id = NULL, updated_at = now() WHERE bill_run_id = :id",
        """DELETE FROM water.review_charge_element_returns WHERE review_return_id IN (
           SELECT rr.id FROM water.review_returns rr JOIN water.review_licences rl ON rl.id = rr.review_licence_id
           WHERE rl.bill_run_id = :id)""",
        """DELETE FROM water.review_charge_elements WHERE review_charge_reference_id IN (
           SELECT rcr.id FROM water.review_charge_references rcr
           JOIN water.review_charge_versions rcv ON rcv.id = rcr.review_charge_version_id
           JOIN water.review_licences rl ON rl.id = rcv.review_licence_id WHERE rl.bill_run_id = :id)""",
        """DELETE FROM water.review_charge_references WHERE review_charge_version_id IN (
           SELECT rcv.id FROM water.review_charge_versions rcv
           JOIN water.review_licences rl ON rl.id = rcv.review_licence_id WHERE rl.bill_run_id = :id)""",
        """DELETE FROM water.review_charge_versions WHERE review_licence_id IN (
           SELECT id FROM water.review_licences WHERE bill_run_id = :id)""",
        """DELETE FROM water.review_returns WHERE review_licence_id IN (
           SELECT id FROM water.review_licences WHERE bill_run_id = :id)""",
        "DELETE FROM water.review_licences WHERE bill_run_id = :id",
        """DELETE FROM water.billing_transactions WHERE billing_invoice_licence_id IN (
           SELECT bil.billing_invoice_licence_id FROM water.billing_invoice_licences bil
           JOIN water.billing_invoices bi ON bi.billing_invoice_id = bil.billing_invoice_id
           WHERE bi.billing_batch_id = :id)""",
        """DELETE FROM water.billing_invoice_licences WHERE billing_invoice_id IN (
           SELECT billing_invoice_id FROM water.billing_invoices WHERE billing_batch_id = :id)""",
        "DELETE FROM water.billing_invoices WHERE billing_batch_id = :id",
        "DELETE FROM water.billing_batch_charge_version_years WHERE billing_batch_id = :id",
        "DELETE FROM water.billing_volumes WHERE billing_batch_id = :id",
    )
)

# Still empty when its turn comes, and held until deleted: a bill run that moved on meanwhile is left alone.
LOCK_BILL_RUN = text(
    "SELECT 1 FROM water.billing_batches WHERE billing_batch_id = CAST(:id AS uuid) AND status = 'empty' FOR UPDATE"
)
DELETE_BILL_RUN = text("DELETE FROM water.billing_batches WHERE billing_batch_id = CAST(:id AS uuid)")


def delete_empty_bill_runs(ctx: StepContext) -> None:
    batch_rows = config().clean_batch_rows
    cm: ChargingModule | None = None
    refused: dict[str, str] = {}
    deleted = 0
    while True:
        with ctx.engine.connect() as connection:
            bill_runs = connection.execute(NEXT_BATCH, {"skip": list(refused), "batch": batch_rows}).all()
        for bill_run in bill_runs:
            if bill_run.external_id is not None:
                cm = cm or ChargingModule(config())
                try:
                    cm.delete(f"v3/wrls/bill-runs/{bill_run.external_id}")
                except PermanentError as e:
                    refused[bill_run.id] = str(e)
                    ctx.logger.warning("empty bill run %s not deleted: %s", bill_run.id, e)
                    continue
            with ctx.engine.begin() as connection:
                deleted += _delete(connection, bill_run.id)
        if len(bill_runs) < batch_rows:
            break
    ctx.count("empty_bill_runs", deleted)
    if refused:
        ctx.count("empty_bill_runs_refused", len(refused))
        listed = "; ".join(f"{bill_run}: {error}" for bill_run, error in sorted(refused.items()))
        raise PermanentJobError(
            f"{len(refused)} empty bill run(s) kept, the Charging Module refused their "
            f"deletion ({deleted} deleted): {listed}"[:2000]
        )


def _delete(connection: Connection, bill_run_id: str) -> int:
    if connection.execute(LOCK_BILL_RUN, {"id": bill_run_id}).first() is None:
        return 0
    for statement in DELETIONS:
        connection.execute(statement, {"id": bill_run_id})
    return connection.execute(DELETE_BILL_RUN, {"id": bill_run_id}).rowcount
