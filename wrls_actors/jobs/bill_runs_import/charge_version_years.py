"""Step charge-version-years: ``water.billing_batch_charge_version_years`` of NALD's bill runs.

The legacy ``importBillingBatchChargeVersionYears``:
which charge versions each imported bill run billed, for which financial year,
as an annual or two-part tariff charge. charging-import-versions keeps the
versions listed here even when NALD drops them.

Changed: written once. The legacy's ``on conflict do nothing`` had no unique
key to conflict on, so every run added the whole set again.
"""

from __future__ import annotations

from sqlalchemy import text

from ...runtime import StepContext
from ..bulk_sql import analyse, hash_joins_only

INSERT = text("""
    WITH source AS (
        SELECT DISTINCT b.billing_batch_id, ce.charge_version_id, i.financial_year_ending, b.date_created,
               b.date_updated, b.status,
               CASE WHEN t.is_two_part_second_part_charge THEN 'two_part_tariff' ELSE 'annual' END
                 AS transaction_type
        FROM water.billing_batches b
        JOIN water.billing_invoices i ON i.billing_batch_id = b.billing_batch_id
        JOIN water.billing_invoice_licences il ON il.billing_invoice_id = i.billing_invoice_id
        JOIN water.billing_transactions t ON t.billing_invoice_licence_id = il.billing_invoice_licence_id
        JOIN water.charge_elements ce ON ce.charge_element_id = t.charge_element_id
        WHERE b.source = 'nald'
    ), written AS (
        INSERT INTO water.billing_batch_charge_version_years (
            billing_batch_id, charge_version_id, financial_year_ending, date_created, date_updated, status,
            transaction_type, is_summer)
        SELECT s.billing_batch_id, s.charge_version_id, s.financial_year_ending, s.date_created, s.date_updated,
               s.status, s.transaction_type, false
        FROM source s
        WHERE NOT EXISTS (SELECT 1 FROM water.billing_batch_charge_version_years y
                          WHERE y.billing_batch_id = s.billing_batch_id AND y.charge_version_id = s.charge_version_id
                            AND y.financial_year_ending = s.financial_year_ending
                            AND y.transaction_type = s.transaction_type)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM source) AS total, (SELECT count(*) FROM written) AS written
""")


def charge_version_years(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        hash_joins_only(connection)
        result = connection.execute(INSERT).one()
        analyse(connection, "water.billing_batch_charge_version_years")
    ctx.count("charge_version_years", result.total)
    ctx.count("charge_version_years_written", result.written)
