"""Step volumes: ``water.billing_volumes`` of NALD's two-part tariff bill runs, in one statement.

The legacy ``importBillingVolumes``: the volume billed
for a charge element in a financial year of a two-part tariff run, approved,
with the season taken from NALD_TPT_RETURNS: summer when the latest return
date falls between 29 April and 28 November in the Southern and Thames regions
(6, 7), 16 April and 15 November elsewhere.

Changed: one volume per (bill run, charge element, financial year, season),
written once. The legacy inserted one per transaction with no key at all, so
an element on two lines got two volumes and every run added them all again.
"""

from __future__ import annotations

from sqlalchemy import text

from ...nald.lookups import column_lookup, report_unreadable, unnest
from ...nald.sql import integer
from ...nald.values import nald_date
from ...runtime import StepContext
from ..bulk_sql import analyse, hash_joins_only

TABLE = "NALD_TPT_RETURNS"

INSERT = text(f"""
    WITH {unnest("day", "date")},
    returns AS (
        SELECT concat_ws(':', r."FGAC_REGION_CODE", r."ACEL_ID") AS external_id,
               {integer('r."FIN_YEAR"')} AS year, d.value AS latest,
               CASE WHEN r."FGAC_REGION_CODE" IN ('6', '7')
                    THEN d.value BETWEEN make_date(extract(year FROM d.value)::int, 4, 29)
                                     AND make_date(extract(year FROM d.value)::int, 11, 28)
                    ELSE d.value BETWEEN make_date(extract(year FROM d.value)::int, 4, 16)
                                     AND make_date(extract(year FROM d.value)::int, 11, 15)
               END AS is_summer
        FROM import."{TABLE}" r
        JOIN day d ON d.raw = coalesce(r."LATEST_RET_DATE", '') AND d.value IS NOT NULL
    ), source AS (
        SELECT DISTINCT ON (b.billing_batch_id, t.charge_element_id, i.financial_year_ending, r.is_summer)
               t.charge_element_id, i.financial_year_ending, r.is_summer, b.billing_batch_id, t.volume
        FROM water.billing_batches b
        JOIN water.billing_invoices i ON i.billing_batch_id = b.billing_batch_id
        JOIN water.billing_invoice_licences il ON il.billing_invoice_id = i.billing_invoice_id
        JOIN water.billing_transactions t ON t.billing_invoice_licence_id = il.billing_invoice_licence_id
        JOIN water.charge_elements ce ON ce.charge_element_id = t.charge_element_id
        JOIN returns r ON r.external_id = ce.external_id AND r.year = i.financial_year_ending
        WHERE b.source = 'nald' AND b.batch_type = 'two_part_tariff'
        ORDER BY b.billing_batch_id, t.charge_element_id, i.financial_year_ending, r.is_summer, t.legacy_id
    ), written AS (
        INSERT INTO water.billing_volumes (charge_element_id, financial_year, is_summer, calculated_volume,
                                           two_part_tariff_error, two_part_tariff_status, two_part_tariff_review,
                                           is_approved, billing_batch_id, volume, errored_on)
        SELECT s.charge_element_id, s.financial_year_ending, s.is_summer, NULL, false, NULL, NULL, true,
               s.billing_batch_id, s.volume, NULL
        FROM source s
        WHERE NOT EXISTS (SELECT 1 FROM water.billing_volumes v
                          WHERE v.billing_batch_id = s.billing_batch_id AND v.charge_element_id = s.charge_element_id
                            AND v.financial_year = s.financial_year_ending AND v.is_summer = s.is_summer)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM source) AS total, (SELECT count(*) FROM written) AS written,
           (SELECT count(*) FROM import."{TABLE}") - (SELECT count(*) FROM returns) AS unreadable
""")


def volumes(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        hash_joins_only(connection)
        days = column_lookup(connection, TABLE, ("LATEST_RET_DATE",), nald_date)
        report_unreadable(ctx, TABLE, ("LATEST_RET_DATE",), days)
        result = connection.execute(INSERT, days.params("day")).one()
        analyse(connection, "water.billing_volumes")
    ctx.count("volumes", result.total)
    ctx.count("volumes_written", result.written)
    ctx.count("tpt_returns_unreadable", result.unreadable)
