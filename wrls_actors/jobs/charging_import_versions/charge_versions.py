"""Step charge-versions: ``water.charge_versions`` from the metadata, in one statement.

The legacy ``importChargeVersions``: scheme ``alcs``,
source ``nald``, region from the external id, the NALD version's flags, billed
date, invoice account and company; a gap version gets the change reason
"NALD gap" and no account. Only versions starting before 2022-04-01.

Changed: a row is rewritten only when a value differs, so a second run
changes nothing; a missing "NALD gap" change reason stops the step with a
clear error (the legacy's inner join on it silently imported nothing); a NALD
version that matches several accounts or companies is written once.
"""

from __future__ import annotations

from sqlalchemy import text

from ...model.reference import NALD_GAP
from ...nald.lookups import column_lookup, report_unreadable, unnest
from ...nald.values import nald_date
from ...runtime import PermanentError, StepContext
from ..upsert import update_when_changed
from .charge_version_metadata import SROC_START

COLUMNS = (
    "licence_ref",
    "scheme",
    "version_number",
    "start_date",
    "end_date",
    "status",
    "apportionment",
    "error",
    "billed_upto_date",
    "region_code",
    "source",
    "invoice_account_id",
    "company_id",
    "licence_id",
    "change_reason_id",
)

CHANGE_REASON = text("SELECT change_reason_id FROM water.change_reasons WHERE description = :d")

UPSERT = text(f"""
    WITH {unnest("billed", "date")},
    nald AS (
        SELECT DISTINCT ON (concat_ws(':', v."FGAC_REGION_CODE", v."AABL_ID", v."VERS_NO"))
               concat_ws(':', v."FGAC_REGION_CODE", v."AABL_ID", v."VERS_NO") AS external_id,
               CASE v."APPORTIONMENT" WHEN 'Y' THEN true WHEN 'N' THEN false END AS apportionment,
               CASE v."IN_ERROR_STATUS" WHEN 'Y' THEN true WHEN 'N' THEN false END AS error,
               b.value AS billed_upto_date, b.raw IS NOT NULL AS readable,
               ia.invoice_account_id, c.company_id
        FROM import."NALD_CHG_VERSIONS" v
        JOIN crm_v2.invoice_accounts ia ON ia.invoice_account_number = v."AIIA_IAS_CUST_REF"
        JOIN import."NALD_LH_ACCS" lha ON lha."ACC_NO" = v."AIIA_ALHA_ACC_NO"
                                       AND lha."FGAC_REGION_CODE" = v."FGAC_REGION_CODE"
        JOIN crm_v2.companies c ON c.external_id = concat_ws(':', lha."FGAC_REGION_CODE", lha."ACON_APAR_ID")
        LEFT JOIN billed b ON b.raw = coalesce(v."BILLED_UPTO_DATE", '')
        ORDER BY 1, ia.invoice_account_id, c.company_id
    ), source AS (
        SELECT l."LIC_NO" AS licence_ref, wl.licence_id, m.external_id, m.version_number, m.start_date,
               m.end_date, m.status, split_part(m.external_id, ':', 1)::integer AS region_code,
               n.apportionment, n.error, n.billed_upto_date, n.invoice_account_id, n.company_id,
               CASE WHEN m.is_nald_gap THEN CAST(:reason AS uuid) END AS change_reason_id,
               coalesce(m.is_nald_gap OR n.readable, false) AS readable
        FROM water_import.charge_versions_metadata m
        JOIN import."NALD_ABS_LICENCES" l ON l."FGAC_REGION_CODE" = split_part(m.external_id, ':', 1)
                                          AND l."ID" = split_part(m.external_id, ':', 2)
        JOIN water.licences wl ON wl.licence_ref = l."LIC_NO"
        LEFT JOIN nald n ON n.external_id = m.external_id
        WHERE m.start_date < :sroc_start
    ), written AS (
        INSERT INTO water.charge_versions AS t (
            licence_ref, scheme, external_id, version_number, start_date, end_date, status, apportionment, error,
            billed_upto_date, region_code, source, invoice_account_id, company_id, licence_id, change_reason_id)
        SELECT licence_ref, 'alcs', external_id, version_number, start_date, end_date, status, apportionment,
               error, billed_upto_date, region_code, 'nald', invoice_account_id, company_id, licence_id,
               change_reason_id
        FROM source WHERE readable
        ON CONFLICT (external_id) DO UPDATE
          {update_when_changed(COLUMNS)}
        RETURNING 1
    )
    SELECT count(*) AS total, count(*) FILTER (WHERE NOT readable) AS unreadable,
           (SELECT count(*) FROM written) AS written,
           (array_agg(external_id ORDER BY external_id) FILTER (WHERE NOT readable))[1:5] AS examples
    FROM source
""")


def charge_versions(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        reason = connection.execute(CHANGE_REASON, {"d": NALD_GAP}).scalar()
        if reason is None:
            raise PermanentError(
                f"water.change_reasons has no row {NALD_GAP!r}: the gap versions need it (the water service seeds it)"
            )
        billed = column_lookup(connection, "NALD_CHG_VERSIONS", ("BILLED_UPTO_DATE",), nald_date)
        report_unreadable(ctx, "NALD_CHG_VERSIONS", ("BILLED_UPTO_DATE",), billed)
        result = connection.execute(
            UPSERT, {"reason": reason, "sroc_start": SROC_START, **billed.params("billed")}
        ).one()
    ctx.count("charge_versions", result.total)
    ctx.count("charge_versions_written", result.written)
    ctx.count("charge_versions_unreadable", result.unreadable)
    if result.unreadable:
        ctx.logger.warning(
            "%d charge versions left as they were: a billed-up-to date cannot be read (first: %s)",
            result.unreadable,
            ", ".join(result.examples),
        )
