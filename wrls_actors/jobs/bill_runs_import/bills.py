"""Step bills: ``water.billing_invoices`` from NALD_BILL_HEADERS, in one statement.

The legacy ``importNaldBillHeaders``: each bill of an
imported run, with its invoice account when WRLS has it, net amount in pence,
credit when BILL_TYPE is C, legacy id ``region:ID``, state ``unrebillable``
and the NALD row as ``metadata``. A bill already there is left as it is; a
row whose values cannot be read is left out and named.
"""

from __future__ import annotations

from sqlalchemy import text

from ...nald.lookups import report_rows
from ...nald.sql import integer, nald_text, number, readable
from ...runtime import StepContext
from ..bulk_sql import analyse, hash_joins_only

INSERT = text(f"""
    WITH source AS (
        SELECT concat_ws(':', h."FGAC_REGION_CODE", h."ID") AS legacy_id, b.billing_batch_id,
               b.date_created, b.date_updated, h."IAS_CUST_REF" AS account_number, ia.invoice_account_id,
               {number('h."NET_AMOUNT"')} * 100 AS net_amount, h."BILL_TYPE" = 'C' AS is_credit,
               {integer('h."FIN_YEAR"')} AS year, {nald_text('h."BILL_NO"')} AS invoice_number,
               row_to_json(h)::jsonb AS metadata,
               ({readable(numbers=('h."NET_AMOUNT"',), required=('h."FIN_YEAR"',))}
                AND h."IAS_CUST_REF" IS NOT NULL) AS readable
        FROM import."NALD_BILL_HEADERS" h
        JOIN water.billing_batches b
          ON b.legacy_id = concat_ws(':', h."FGAC_REGION_CODE", h."ABRN_BILL_RUN_NO") AND b.source = 'nald'
        LEFT JOIN crm_v2.invoice_accounts ia ON ia.invoice_account_number = h."IAS_CUST_REF"
    ), written AS (
        INSERT INTO water.billing_invoices (
            invoice_account_id, address, invoice_account_number, net_amount, is_credit, date_created,
            date_updated, billing_batch_id, financial_year_ending, legacy_id, metadata, invoice_number,
            rebilling_state)
        SELECT DISTINCT ON (legacy_id)
               invoice_account_id, '{{}}'::jsonb, account_number, net_amount, is_credit, date_created,
               date_updated, billing_batch_id, year, legacy_id, metadata, invoice_number, 'unrebillable'
        FROM source WHERE readable
        ORDER BY legacy_id
        ON CONFLICT (legacy_id) DO NOTHING
        RETURNING invoice_account_id
    )
    SELECT count(*) AS total, count(*) FILTER (WHERE NOT readable) AS unreadable,
           (SELECT count(*) FROM written) AS written,
           (SELECT count(*) FROM written WHERE invoice_account_id IS NULL) AS without_account,
           (array_agg(legacy_id ORDER BY legacy_id) FILTER (WHERE NOT readable))[1:5] AS examples
    FROM source
""")


def bills(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        hash_joins_only(connection)
        result = connection.execute(INSERT).one()
        analyse(connection, "water.billing_invoices")
    ctx.count("bills", result.total)
    ctx.count("bills_written", result.written)
    ctx.count("bills_without_invoice_account", result.without_account)
    ctx.count("bills_unreadable", result.unreadable)
    report_rows(ctx, "bills", result.unreadable, result.examples)
