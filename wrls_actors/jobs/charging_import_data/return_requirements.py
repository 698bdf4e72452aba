"""Step return-requirements: ``water.return_requirements`` from NALD_RET_FORMATS, in one transaction.

Legacy ``src/modules/charging-import/lib/queries/return-versions.js``
(importReturnRequirements): external id ``region:ID``,
``legacy_id`` = ID, the return version found by its external id
``region:ARVN_AABL_ID:ARVN_VERS_NO``, abstraction period, site description and
description (``'null'`` as NULL), ``is_summer`` (FORM_PRODN_MONTH 65, 45, 80),
``is_upload`` (65, 66), frequency D/W/F/M/Q/A to day ... year.

One set-based statement, codes mapped by ``mapping.py`` on their distinct
values. The format ID is unique per row, so it is checked in SQL (digits
only) rather than looked up. Formats whose return version was not imported
are left out and counted; so are rows the rules cannot read.
"""

from __future__ import annotations

from sqlalchemy import text

from ...nald.formats import is_summer_format, is_upload_format
from ...nald.lookups import lookup_params, report_rows, unnest
from ...nald.sql import nald_text
from ...nald.values import smallint
from ...runtime import StepContext
from ..upsert import update_when_changed
from . import mapping

TABLE = "NALD_RET_FORMATS"
PERIOD = ("ABS_PERIOD_ST_DAY", "ABS_PERIOD_ST_MONTH", "ABS_PERIOD_END_DAY", "ABS_PERIOD_END_MONTH")
_ID = "'^[0-9]{1,9}$'"
COLUMNS = (
    "return_version_id",
    "legacy_id",
    "abstraction_period_start_day",
    "abstraction_period_start_month",
    "abstraction_period_end_day",
    "abstraction_period_end_month",
    "site_description",
    "description",
    "is_summer",
    "is_upload",
    "returns_frequency",
)

UPSERT = text(f"""
    WITH {unnest("frequency", "text")}, {unnest("summer", "boolean")}, {unnest("upload", "boolean")},
         {unnest("period", "smallint")},
    source AS (
        SELECT concat_ws(':', f."FGAC_REGION_CODE", f."ID") AS external_id,
               rv.return_version_id,
               CASE WHEN f."ID" ~ {_ID} THEN CAST(f."ID" AS integer) END AS legacy_id,
               sd.value AS start_day, sm.value AS start_month, ed.value AS end_day, em.value AS end_month,
               {nald_text('f."SITE_DESCR"')} AS site_description, {nald_text('f."DESCR"')} AS description,
               su.value AS is_summer, up.value AS is_upload, fr.value AS returns_frequency,
               (coalesce(f."ID" ~ {_ID}, false) AND fr.raw IS NOT NULL AND su.raw IS NOT NULL
                AND up.raw IS NOT NULL AND sd.raw IS NOT NULL AND sm.raw IS NOT NULL AND ed.raw IS NOT NULL
                AND em.raw IS NOT NULL) AS readable
        FROM import."{TABLE}" f
        LEFT JOIN water.return_versions rv
               ON rv.external_id = concat_ws(':', f."FGAC_REGION_CODE", f."ARVN_AABL_ID", f."ARVN_VERS_NO")
        LEFT JOIN frequency fr ON fr.raw = coalesce(f."ARTC_REC_FREQ_CODE", '')
        LEFT JOIN summer su ON su.raw = coalesce(f."FORM_PRODN_MONTH", '')
        LEFT JOIN upload up ON up.raw = coalesce(f."FORM_PRODN_MONTH", '')
        LEFT JOIN period sd ON sd.raw = coalesce(f."ABS_PERIOD_ST_DAY", '')
        LEFT JOIN period sm ON sm.raw = coalesce(f."ABS_PERIOD_ST_MONTH", '')
        LEFT JOIN period ed ON ed.raw = coalesce(f."ABS_PERIOD_END_DAY", '')
        LEFT JOIN period em ON em.raw = coalesce(f."ABS_PERIOD_END_MONTH", '')
    ), written AS (
        INSERT INTO water.return_requirements AS t (
            return_version_id, legacy_id, abstraction_period_start_day, abstraction_period_start_month,
            abstraction_period_end_day, abstraction_period_end_month, site_description, description, is_summer,
            is_upload, returns_frequency, external_id)
        SELECT DISTINCT ON (external_id) return_version_id, legacy_id, start_day, start_month, end_day,
               end_month, site_description, description, is_summer, is_upload, returns_frequency, external_id
        FROM source WHERE readable AND return_version_id IS NOT NULL
        ORDER BY external_id, return_version_id, legacy_id, start_day, start_month, end_day, end_month,
                 site_description, description, is_summer, is_upload, returns_frequency
        ON CONFLICT (external_id) DO UPDATE
          {update_when_changed(COLUMNS)}
        RETURNING 1
    )
    SELECT count(*) AS total,
           count(*) FILTER (WHERE NOT readable) AS unreadable,
           count(*) FILTER (WHERE readable AND return_version_id IS NULL) AS no_version,
           count(*) FILTER (WHERE readable AND return_version_id IS NOT NULL)
             - count(DISTINCT external_id) FILTER (WHERE readable AND return_version_id IS NOT NULL) AS duplicates,
           (SELECT count(*) FROM written) AS written,
           (array_agg(external_id ORDER BY external_id) FILTER (WHERE NOT readable))[1:5] AS examples
    FROM source
""")

LOOKUPS = (
    ("frequency", ("ARTC_REC_FREQ_CODE",), mapping.returns_frequency),
    ("summer", ("FORM_PRODN_MONTH",), is_summer_format),
    ("upload", ("FORM_PRODN_MONTH",), is_upload_format),
    ("period", PERIOD, smallint),
)


def return_requirements(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        result = connection.execute(UPSERT, lookup_params(ctx, connection, TABLE, LOOKUPS)).one()
    ctx.count("return_requirements", result.total)
    ctx.count("return_requirements_written", result.written)
    ctx.count("return_requirements_unreadable", result.unreadable)
    ctx.count("return_requirements_skipped_no_version", result.no_version)
    ctx.count("return_requirements_duplicates", result.duplicates)
    report_rows(ctx, "return requirements", result.unreadable, result.examples, result.duplicates)
    if result.no_version:
        ctx.logger.info("%d return requirements left out: their return version was not imported", result.no_version)
