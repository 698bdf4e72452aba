"""Step bill-runs: ``water.billing_batches`` from NALD_BILL_RUNS, in one statement.

The legacy ``importNaldBillRuns``: annual (A),
supplementary (S) and two-part tariff (R) runs of financial year 2015 on that
were transferred to the billing system; status ``sent``, source ``nald``,
legacy id ``region:BILL_RUN_NO``, amounts in pence, the NALD row kept as
``metadata``, and ``is_summer`` from the legacy's list (``summer_runs.py``).
A run already there is left as it is. A row whose values cannot be read is
left out and named.
"""

from __future__ import annotations

import json

from sqlalchemy import text

from ...nald.lookups import column_lookup, report_rows, report_unreadable, unnest
from ...nald.sql import integer, is_null, number, readable
from ...nald.values import nald_date
from ...runtime import StepContext
from ..bulk_sql import analyse
from .summer_runs import LEGACY_IDS

TABLE = "NALD_BILL_RUNS"
DATES = ("INITIATION_DATE", "BILL_RUN_STATUS_DATE")
BATCH_TYPES = {"A": "annual", "S": "supplementary", "R": "two_part_tariff"}

INSERT = text(f"""
    WITH {unnest("day", "date")},
    runs AS (
        SELECT r.*, concat_ws(':', r."FGAC_REGION_CODE", r."BILL_RUN_NO") AS legacy_id
        FROM import."{TABLE}" r
        WHERE r."BILL_RUN_TYPE" = ANY (CAST(:types AS text[]))
          AND NOT {is_null('r."IAS_XFER_DATE"')}
          AND coalesce({integer('r."FIN_YEAR"')} >= 2015, true)
    ), source AS (
        SELECT r.legacy_id, reg.region_id, r."BILL_RUN_TYPE" AS type, {integer('r."FIN_YEAR"')} AS year,
               ini.value AS created, st.value AS updated,
               {integer('r."NO_OF_INVS"')} AS invoices, {integer('r."NO_OF_CRNS"')} AS credit_notes,
               {number('r."VALUE_OF_INVS"')} * 100 AS invoice_value,
               {number('r."VALUE_OF_CRNS"')} * 100 AS credit_note_value,
               {integer('r."BILL_RUN_NO"')} AS number, row_to_json(r)::jsonb - 'legacy_id' AS metadata,
               (ini.value IS NOT NULL AND st.value IS NOT NULL
                AND {
    readable(
        numbers=('r."VALUE_OF_INVS"', 'r."VALUE_OF_CRNS"'),
        integers=('r."NO_OF_INVS"', 'r."NO_OF_CRNS"'),
        required=('r."BILL_RUN_NO"', 'r."FIN_YEAR"'),
    )
})
                 AS readable
        FROM runs r
        JOIN water.regions reg ON reg.nald_region_id = {integer('r."FGAC_REGION_CODE"')}
        LEFT JOIN day ini ON ini.raw = coalesce(r."INITIATION_DATE", '')
        LEFT JOIN day st ON st.raw = coalesce(r."BILL_RUN_STATUS_DATE", '')
    ), written AS (
        INSERT INTO water.billing_batches (
            region_id, batch_type, date_created, date_updated, from_financial_year_ending,
            to_financial_year_ending, status, invoice_count, credit_note_count, net_total, bill_run_number,
            is_summer, source, legacy_id, metadata, invoice_value, credit_note_value)
        SELECT DISTINCT ON (legacy_id)
               region_id, (CAST(:type_names AS jsonb) ->> type), created, updated, year, year, 'sent', invoices,
               credit_notes, (invoice_value + credit_note_value)::bigint, number,
               legacy_id = ANY (CAST(:summer AS text[])), 'nald', legacy_id, metadata, invoice_value,
               credit_note_value
        FROM source WHERE readable
        ORDER BY legacy_id
        ON CONFLICT (legacy_id) DO NOTHING
        RETURNING 1
    )
    SELECT count(*) AS total, count(*) FILTER (WHERE NOT readable) AS unreadable,
           (SELECT count(*) FROM written) AS written,
           (array_agg(legacy_id ORDER BY legacy_id) FILTER (WHERE NOT readable))[1:5] AS examples
    FROM source
""")


def bill_runs(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        days = column_lookup(connection, TABLE, DATES, nald_date)
        report_unreadable(ctx, TABLE, DATES, days)
        result = connection.execute(
            INSERT,
            {
                "types": list(BATCH_TYPES),
                "type_names": json.dumps(BATCH_TYPES),
                "summer": LEGACY_IDS,
                **days.params("day"),
            },
        ).one()
        analyse(connection, "water.billing_batches")
    ctx.count("bill_runs", result.total)
    ctx.count("bill_runs_written", result.written)
    ctx.count("bill_runs_unreadable", result.unreadable)
    report_rows(ctx, "bill runs", result.unreadable, result.examples)
