"""Step bill-licences: ``water.billing_invoice_licences``, a row per bill and licence it charged.

The legacy ``importInvoiceLicences`` found a bill's
licences through its lines and inserted one row per *line*, relying on the
unique (bill, licence_id) to drop the repeats; a licence WRLS did not have
(licence_id NULL) was inserted again on every line and every run. Here each
(bill, licence number) is written once, whether WRLS has the licence or not.
"""

from __future__ import annotations

from sqlalchemy import text

from ...runtime import StepContext
from ..bulk_sql import analyse, hash_joins_only

INSERT = text("""
    WITH source AS (
        SELECT DISTINCT i.billing_invoice_id, i.date_created, i.date_updated, nl."LIC_NO" AS licence_ref
        FROM import."NALD_BILL_TRANS" t
        JOIN water.billing_invoices i ON i.legacy_id = concat_ws(':', t."FGAC_REGION_CODE", t."ABHD_ID")
        JOIN import."NALD_ABS_LICENCES" nl ON nl."FGAC_REGION_CODE" = t."FGAC_REGION_CODE" AND nl."ID" = t."LIC_ID"
    ), written AS (
        INSERT INTO water.billing_invoice_licences (billing_invoice_id, licence_ref, date_created, date_updated,
                                                    licence_id)
        SELECT s.billing_invoice_id, s.licence_ref, s.date_created, s.date_updated, l.licence_id
        FROM source s LEFT JOIN water.licences l ON l.licence_ref = s.licence_ref
        WHERE NOT EXISTS (SELECT 1 FROM water.billing_invoice_licences il
                          WHERE il.billing_invoice_id = s.billing_invoice_id AND il.licence_ref = s.licence_ref)
        ON CONFLICT (billing_invoice_id, licence_id) DO NOTHING
        RETURNING licence_id
    )
    SELECT (SELECT count(*) FROM source) AS total, count(*) AS written,
           count(*) FILTER (WHERE licence_id IS NULL) AS without_licence
    FROM written
""")


def bill_licences(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        hash_joins_only(connection)
        result = connection.execute(INSERT).one()
        analyse(connection, "water.billing_invoice_licences")
    ctx.count("bill_licences", result.total)
    ctx.count("bill_licences_written", result.written)
    ctx.count("bill_licences_without_wrls_licence", result.without_licence)
