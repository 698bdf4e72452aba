"""Step charge-elements: ``water.charge_elements`` from NALD_CHG_ELEMENTS, in one statement.

The legacy ``importChargeElements``: external id
``region:ID``, the charge version found by ``region:AABL_ID:VERS_NO``, season,
source and loss codes to words, the purposes by legacy id, and the section 127
flag: off only for an element without an S127 agreement on a version where
another element has one (two-part tariff applies to those elements only).

Changed: values are read by the NALD rules of ``wrls_actors/nald``
and a row whose values cannot be read is left out and reported (the legacy's
casts failed the whole statement on one bad value); a row is rewritten only
when a value differs. Elements of versions not written (SROC, unlinked) and
elements whose purpose codes WRLS does not know are counted and left out.
"""

from __future__ import annotations

from sqlalchemy import text

from ...nald.codes import LOSS_FACTORS, SEASONS, SOURCES, code_of, flag
from ...nald.lookups import lookup_params, report_rows, unnest
from ...nald.sql import nald_text
from ...nald.values import decimal, nald_date, smallint
from ...runtime import StepContext
from ..upsert import update_when_changed

TABLE = "NALD_CHG_ELEMENTS"
_PERIOD = ("ABS_PERIOD_ST_DAY", "ABS_PERIOD_ST_MONTH", "ABS_PERIOD_END_DAY", "ABS_PERIOD_END_MONTH")

LOOKUPS = (
    ("period", _PERIOD, smallint, "smallint"),
    ("quantity", ("AUTH_ANN_QTY", "BILLABLE_ANN_QTY"), decimal, "numeric"),
    ("season", ("ASFT_CODE", "ASFT_CODE_DERIVED"), code_of(SEASONS, "a season code"), "text"),
    ("water_source", ("ASRF_CODE",), code_of(SOURCES, "a source code"), "text"),
    ("loss", ("ALSF_CODE",), code_of(LOSS_FACTORS, "a loss code"), "text"),
    ("overridden", ("FCTS_OVERRIDDEN",), flag, "boolean"),
    ("limited", ("TIMELTD_ST_DATE", "TIMELTD_END_DATE"), nald_date, "date"),
)

COLUMNS = (
    "charge_version_id",
    "abstraction_period_start_day",
    "abstraction_period_start_month",
    "abstraction_period_end_day",
    "abstraction_period_end_month",
    "authorised_annual_quantity",
    "billable_annual_quantity",
    "season",
    "season_derived",
    "source",
    "loss",
    "factors_overridden",
    "time_limited_start_date",
    "time_limited_end_date",
    "description",
    "purpose_primary_id",
    "purpose_secondary_id",
    "purpose_use_id",
    "is_section_127_agreement_enabled",
)

UPSERT = text(f"""
    WITH {", ".join(unnest(name, sql_type) for name, _, _, sql_type in LOOKUPS)},
    s127 AS (
        SELECT DISTINCT a."FGAC_REGION_CODE" AS region, a."ACEL_ID" AS element
        FROM import."NALD_CHG_AGRMNTS" a WHERE a."AFSA_CODE" = 'S127'
    ), elements AS (
        SELECT e.*, concat_ws(':', e."FGAC_REGION_CODE", e."ID") AS external_id,
               concat_ws(':', e."FGAC_REGION_CODE", e."ACVR_AABL_ID", e."ACVR_VERS_NO") AS version_external_id,
               EXISTS (SELECT 1 FROM s127 WHERE s127.region = e."FGAC_REGION_CODE" AND s127.element = e."ID")
                 AS has_s127
        FROM import."{TABLE}" e
    ), versions_with_s127 AS (
        SELECT DISTINCT version_external_id FROM elements WHERE has_s127
    ), source AS (
        SELECT e.external_id, v.charge_version_id,
               psd.value AS start_day, psm.value AS start_month, ped.value AS end_day, pem.value AS end_month,
               aq.value AS authorised, bq.value AS billable, se.value AS season, sd.value AS season_derived,
               so.value AS source, lo.value AS loss, fo.value AS factors_overridden,
               ls.value AS limited_start, le.value AS limited_end, {nald_text('e."DESCR"')} AS description,
               pp.purpose_primary_id, ps.purpose_secondary_id, pu.purpose_use_id,
               NOT (vs.version_external_id IS NOT NULL AND NOT e.has_s127) AS s127_enabled,
               (psd.raw IS NOT NULL AND psm.raw IS NOT NULL AND ped.raw IS NOT NULL AND pem.raw IS NOT NULL
                AND aq.raw IS NOT NULL AND bq.raw IS NOT NULL AND se.raw IS NOT NULL AND sd.raw IS NOT NULL
                AND so.raw IS NOT NULL AND lo.raw IS NOT NULL AND fo.raw IS NOT NULL AND ls.raw IS NOT NULL
                AND le.raw IS NOT NULL) AS readable
        FROM elements e
        LEFT JOIN water.charge_versions v ON v.external_id = e.version_external_id
        LEFT JOIN versions_with_s127 vs ON vs.version_external_id = e.version_external_id
        LEFT JOIN water.purposes_primary pp ON pp.legacy_id = e."APUR_APPR_CODE"
        LEFT JOIN water.purposes_secondary ps ON ps.legacy_id = e."APUR_APSE_CODE"
        LEFT JOIN water.purposes_uses pu ON pu.legacy_id = e."APUR_APUS_CODE"
        LEFT JOIN period psd ON psd.raw = coalesce(e."ABS_PERIOD_ST_DAY", '')
        LEFT JOIN period psm ON psm.raw = coalesce(e."ABS_PERIOD_ST_MONTH", '')
        LEFT JOIN period ped ON ped.raw = coalesce(e."ABS_PERIOD_END_DAY", '')
        LEFT JOIN period pem ON pem.raw = coalesce(e."ABS_PERIOD_END_MONTH", '')
        LEFT JOIN quantity aq ON aq.raw = coalesce(e."AUTH_ANN_QTY", '')
        LEFT JOIN quantity bq ON bq.raw = coalesce(e."BILLABLE_ANN_QTY", '')
        LEFT JOIN season se ON se.raw = coalesce(e."ASFT_CODE", '')
        LEFT JOIN season sd ON sd.raw = coalesce(e."ASFT_CODE_DERIVED", '')
        LEFT JOIN water_source so ON so.raw = coalesce(e."ASRF_CODE", '')
        LEFT JOIN loss lo ON lo.raw = coalesce(e."ALSF_CODE", '')
        LEFT JOIN overridden fo ON fo.raw = coalesce(e."FCTS_OVERRIDDEN", '')
        LEFT JOIN limited ls ON ls.raw = coalesce(e."TIMELTD_ST_DATE", '')
        LEFT JOIN limited le ON le.raw = coalesce(e."TIMELTD_END_DATE", '')
    ), wanted AS (
        SELECT DISTINCT ON (external_id) * FROM source
        WHERE readable AND charge_version_id IS NOT NULL AND purpose_primary_id IS NOT NULL
          AND purpose_secondary_id IS NOT NULL AND purpose_use_id IS NOT NULL
        ORDER BY external_id, charge_version_id
    ), written AS (
        INSERT INTO water.charge_elements AS t (
            charge_version_id, external_id, abstraction_period_start_day, abstraction_period_start_month,
            abstraction_period_end_day, abstraction_period_end_month, authorised_annual_quantity,
            billable_annual_quantity, season, season_derived, source, loss, factors_overridden,
            time_limited_start_date, time_limited_end_date, description, purpose_primary_id,
            purpose_secondary_id, purpose_use_id, is_section_127_agreement_enabled)
        SELECT charge_version_id, external_id, start_day, start_month, end_day, end_month, authorised, billable,
               season, season_derived, source, loss, factors_overridden, limited_start, limited_end, description,
               purpose_primary_id, purpose_secondary_id, purpose_use_id, s127_enabled
        FROM wanted
        ON CONFLICT (external_id) DO UPDATE
          {update_when_changed(COLUMNS)}
        RETURNING 1
    )
    SELECT count(*) AS total,
           count(*) FILTER (WHERE NOT readable) AS unreadable,
           count(*) FILTER (WHERE readable AND charge_version_id IS NULL) AS no_version,
           count(*) FILTER (WHERE readable AND charge_version_id IS NOT NULL
                            AND (purpose_primary_id IS NULL OR purpose_secondary_id IS NULL
                                 OR purpose_use_id IS NULL)) AS no_purpose,
           count(*) FILTER (WHERE readable AND charge_version_id IS NOT NULL AND purpose_primary_id IS NOT NULL
                            AND purpose_secondary_id IS NOT NULL AND purpose_use_id IS NOT NULL)
             - (SELECT count(*) FROM wanted) AS duplicates,
           (SELECT count(*) FROM written) AS written,
           (array_agg(external_id ORDER BY external_id) FILTER (WHERE NOT readable))[1:5] AS examples
    FROM source
""")


def charge_elements(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        result = connection.execute(UPSERT, lookup_params(ctx, connection, TABLE, LOOKUPS)).one()
    ctx.count("charge_elements", result.total)
    ctx.count("charge_elements_written", result.written)
    ctx.count("charge_elements_unreadable", result.unreadable)
    ctx.count("charge_elements_skipped_no_version", result.no_version)
    ctx.count("charge_elements_skipped_no_purpose", result.no_purpose)
    report_rows(ctx, "charge elements", result.unreadable, result.examples, result.duplicates)
    if result.no_purpose:
        ctx.logger.warning(
            "%d charge elements left out: purpose codes not in water.purposes_* (charging-import-data writes them)",
            result.no_purpose,
        )
