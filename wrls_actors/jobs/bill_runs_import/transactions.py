"""Step transactions: ``water.billing_transactions`` from NALD_BILL_TRANS, in one statement.

The legacy ``importTransactions``: each NALD bill line
gives a standard charge (legacy id ``region:ID:S``, amount FINAL_A1, the
charge element's description or its use's, "First/Second part <use> charge"
for two-part tariff lines) and, on annual and supplementary runs, a
compensation charge (``region:ID:C``, FINAL_A2; none when a water undertaker's
is 0), with the factors of the line and the charge element's period, season,
source and loss when WRLS has the element. A line already there is left as
it is.

Changed:
- ``is_two_part_second_part_charge`` is set on the rows written, from their
  description. The legacy wrote it, then reset the flag on *every* transaction
  of the table, WRLS's own included, and set it again from the description.
- A line that gives neither charge is not written. The legacy's left join
  wrote it with no legacy id, so again on every run.
- ``is_new_licence`` is false when NEW_OWN_FLAG is NULL (the legacy wrote NULL).
- A line whose values cannot be read is left out and named.
"""

from __future__ import annotations

from sqlalchemy import text

from ...nald.lookups import column_lookup, report_rows, report_unreadable, unnest
from ...nald.sql import integer, is_null, nald_text, number, readable
from ...nald.values import nald_date
from ...runtime import StepContext
from ..bulk_sql import analyse, hash_joins_only

TABLE = "NALD_BILL_TRANS"
DATES = ("BILL_ST_DATE", "BILL_END_DATE")
NUMBERS = (
    "BILLABLE_ANN_QTY",
    "SRCE_VALUE",
    "SEAS_VALUE",
    "LOSS_VALUE",
    "SUC_RATE",
    "EIUC_VALUE",
    "EIUC_SRCE_VALUE",
    "FINAL_A1_BILLABLE_AMOUNT",
    "FINAL_A2_BILLABLE_AMOUNT",
)
COMPENSATION = (
    "Compensation Charge calculated from all factors except Standard Unit Charge and Source "
    "(replaced by factors below) and excluding S127 Charge Element"
)


def _agreement_value(alias: str, agreement: str) -> str:
    """The legacy's ``ELEMENT_AGRMNT_VALS`` factor (``x 0.5``) for lines whose agreement ends in ``agreement``."""
    vals = f"replace({alias}.\"ELEMENT_AGRMNT_VALS\", 'x ', '')"
    return f"CASE WHEN {alias}.\"ELEMENT_AGRMNTS\" LIKE '%{agreement}' THEN {number(vals)} END"


INSERT = text(f"""
    WITH {unnest("day", "date")},
    lines AS (
        SELECT t.*, row_to_json(t)::jsonb AS metadata, concat_ws(':', t."FGAC_REGION_CODE", t."ID") AS line_id,
               r."BILL_RUN_TYPE" AS run_type,
               i.billing_invoice_id, i.date_created, i.date_updated, il.billing_invoice_licence_id,
               ce.charge_element_id, ce.abstraction_period_start_day, ce.abstraction_period_start_month,
               ce.abstraction_period_end_day, ce.abstraction_period_end_month, ce.source, ce.season, ce.loss,
               ce.authorised_annual_quantity, ce.billable_annual_quantity,
               {nald_text('nce."DESCR"')} AS element_description, npu."DESCR" AS use_description,
               right(nl."AREP_EIUC_CODE", 3) = 'SWC' AS is_water_undertaker,
               st.value AS start_date, en.value AS end_date,
               (st.raw IS NOT NULL AND en.raw IS NOT NULL
                AND {
    readable(numbers=tuple(f't."{c}"' for c in NUMBERS), integers=('t."ABS_PER_DAYS"', 't."BILLABLE_DAYS"'))
}) AS readable
        FROM import."{TABLE}" t
        JOIN import."NALD_BILL_RUNS" r
          ON r."FGAC_REGION_CODE" = t."FGAC_REGION_CODE" AND r."BILL_RUN_NO" = t."ABRN_BILL_RUN_NO"
        JOIN water.billing_invoices i ON i.legacy_id = concat_ws(':', t."FGAC_REGION_CODE", t."ABHD_ID")
        JOIN import."NALD_ABS_LICENCES" nl ON nl."FGAC_REGION_CODE" = t."FGAC_REGION_CODE" AND nl."ID" = t."LIC_ID"
        JOIN water.billing_invoice_licences il
          ON il.billing_invoice_id = i.billing_invoice_id AND il.licence_ref = nl."LIC_NO"
        LEFT JOIN water.charge_elements ce ON ce.external_id = concat_ws(':', t."FGAC_REGION_CODE", t."ACEL_ID")
        LEFT JOIN import."NALD_CHG_ELEMENTS" nce
               ON nce."FGAC_REGION_CODE" = t."FGAC_REGION_CODE" AND nce."ID" = t."ACEL_ID"
        LEFT JOIN import."NALD_PURP_USES" npu ON npu."CODE" = nce."APUR_APUS_CODE"
        LEFT JOIN day st ON st.raw = coalesce(t."BILL_ST_DATE", '')
        LEFT JOIN day en ON en.raw = coalesce(t."BILL_END_DATE", '')
    ), charges AS (
        -- Standard charges: lines whose NALD element and its use are known.
        SELECT l.*, 'standard' AS charge_type, concat_ws(':', l.line_id, 'S') AS legacy_id,
               {number('l."FINAL_A1_BILLABLE_AMOUNT"')} * 100 AS net_amount,
               CASE WHEN l."ELEMENT_AGRMNTS" = 'S127' AND l.run_type = 'R'
                      THEN concat('Second part ', l.use_description, ' charge',
                                  ' at ' || l.element_description)
                    WHEN l."ELEMENT_AGRMNTS" = 'S127'
                      THEN concat('First part ', l.use_description, ' charge', ' at ' || l.element_description)
                    ELSE coalesce(l.element_description, l.use_description)
               END AS description,
               {number('l."SRCE_VALUE"')} AS source_factor, {number('l."SUC_RATE"')} AS suc_factor,
               0::numeric AS eiuc_factor, 0::numeric AS eiuc_source_factor,
               {_agreement_value("l", "127")} AS s127_factor
        FROM lines l WHERE l.use_description IS NOT NULL
        UNION ALL
        -- Compensation charges: annual and supplementary runs, none for a water undertaker's nil amount.
        SELECT l.*, 'compensation', concat_ws(':', l.line_id, 'C'), {number('l."FINAL_A2_BILLABLE_AMOUNT"')} * 100,
               :compensation, 0, 0, {number('l."EIUC_VALUE"')}, {number('l."EIUC_SRCE_VALUE"')}, NULL
        FROM lines l
        WHERE l.run_type IN ('A', 'S')
          AND NOT coalesce({number('l."FINAL_A2_BILLABLE_AMOUNT"')} = 0 AND l.is_water_undertaker, false)
    ), written AS (
        INSERT INTO water.billing_transactions (
            billing_invoice_licence_id, charge_element_id, start_date, end_date, abstraction_period, source,
            season, loss, is_credit, authorised_quantity, billable_quantity, authorised_days, billable_days,
            status, date_created, date_updated, volume, section_126_factor, section_127_agreement,
            section_130_agreement, is_two_part_second_part_charge, is_de_minimis, is_new_licence, charge_type,
            net_amount, legacy_id, description, metadata, calc_source_factor, calc_season_factor,
            calc_loss_factor, calc_suc_factor, calc_s_126_factor, calc_s_127_factor, calc_eiuc_factor,
            calc_eiuc_source_factor)
        SELECT c.billing_invoice_licence_id, c.charge_element_id, c.start_date, c.end_date,
               json_build_object('startDay', c.abstraction_period_start_day,
                                 'startMonth', c.abstraction_period_start_month,
                                 'endDay', c.abstraction_period_end_day,
                                 'endMonth', c.abstraction_period_end_month),
               c.source, c.season, c.loss, c."TRANS_TYPE" = 'C', c.authorised_annual_quantity,
               c.billable_annual_quantity, {integer('c."ABS_PER_DAYS"')}, {integer('c."BILLABLE_DAYS"')},
               'charge_created', c.date_created, c.date_updated, {number('c."BILLABLE_ANN_QTY"')}, NULL,
               c."ELEMENT_AGRMNTS" = 'S127',
               CASE WHEN left(c."LH_ACC_AGRMNTS", 4) = 'S130' THEN c."LH_ACC_AGRMNTS" END,
               c.description ILIKE 'second%', false, NOT {is_null('c."NEW_OWN_FLAG"')}, c.charge_type,
               c.net_amount, c.legacy_id, c.description,
               c.metadata,
               c.source_factor, {number('c."SEAS_VALUE"')}, {number('c."LOSS_VALUE"')}, c.suc_factor,
               {_agreement_value("c", "126")}, c.s127_factor, c.eiuc_factor, c.eiuc_source_factor
        FROM charges c WHERE c.readable
        ON CONFLICT (legacy_id) DO NOTHING
        RETURNING charge_type
    )
    SELECT (SELECT count(*) FROM lines) AS lines,
           (SELECT count(*) FROM lines WHERE NOT readable) AS unreadable,
           (SELECT count(*) FROM lines WHERE readable AND use_description IS NULL) AS no_element,
           count(*) AS written, count(*) FILTER (WHERE charge_type = 'compensation') AS compensation,
           (SELECT (array_agg(line_id ORDER BY line_id) FILTER (WHERE NOT readable))[1:5] FROM lines) AS examples
    FROM written
""")


def transactions(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        hash_joins_only(connection)
        days = column_lookup(connection, TABLE, DATES, nald_date)
        report_unreadable(ctx, TABLE, DATES, days)
        result = connection.execute(INSERT, {"compensation": COMPENSATION, **days.params("day")}).one()
        analyse(connection, "water.billing_transactions")
    ctx.count("bill_lines", result.lines)
    ctx.count("bill_lines_unreadable", result.unreadable)
    ctx.count("bill_lines_without_nald_element", result.no_element)
    ctx.count("transactions_written", result.written)
    ctx.count("transactions_written_compensation", result.compensation)
    report_rows(ctx, "bill lines", result.unreadable, result.examples)
