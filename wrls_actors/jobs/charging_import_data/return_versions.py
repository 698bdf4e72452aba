"""Step return-versions: ``water.return_versions`` from NALD_RET_VERSIONS, in one transaction.

Legacy ``src/modules/charging-import/lib/queries/return-versions.js``
(importReturnVersions): external id
``region:AABL_ID:VERS_NO``, the licence found through NALD_ABS_LICENCES and
``water.licences`` (filled by licence-import), status CURR/SUPER/DRAFT to
current/superseded/draft.

One set-based statement. The codes are mapped by ``mapping.py``, the dates by ``wrls_actors/nald``
(distinct values only, see ``wrls_actors/nald/lookups.py``); the upsert compares typed values,
so an unchanged extract changes no row. Versions of a licence not in
``water.licences`` yet are left out and counted (the legacy's inner join
dropped them silently); so are rows the rules cannot read (the legacy's
statement failed as a whole on one bad date or status).
"""

from __future__ import annotations

from sqlalchemy import text

from ...nald.lookups import lookup_params, report_rows, unnest
from ...nald.values import nald_date, required_date, required_integer
from ...runtime import StepContext
from ..upsert import update_when_changed
from . import mapping

TABLE = "NALD_RET_VERSIONS"

UPSERT = text(f"""
    WITH {unnest("status", "text")}, {unnest("version_no", "integer")}, {unnest("start_date", "date")},
         {unnest("end_date", "date")},
    source AS (
        SELECT concat_ws(':', v."FGAC_REGION_CODE", v."AABL_ID", v."VERS_NO") AS external_id,
               l.licence_id, n.value AS version_number, sd.value AS start_date, ed.value AS end_date,
               s.value AS status,
               (n.raw IS NOT NULL AND sd.raw IS NOT NULL AND ed.raw IS NOT NULL AND s.raw IS NOT NULL) AS readable
        FROM import."{TABLE}" v
        LEFT JOIN import."NALD_ABS_LICENCES" nl
               ON nl."FGAC_REGION_CODE" = v."FGAC_REGION_CODE" AND nl."ID" = v."AABL_ID"
        LEFT JOIN water.licences l ON l.licence_ref = nl."LIC_NO"
        LEFT JOIN status s ON s.raw = coalesce(v."STATUS", '')
        LEFT JOIN version_no n ON n.raw = coalesce(v."VERS_NO", '')
        LEFT JOIN start_date sd ON sd.raw = coalesce(v."EFF_ST_DATE", '')
        LEFT JOIN end_date ed ON ed.raw = coalesce(v."EFF_END_DATE", '')
    ), written AS (
        INSERT INTO water.return_versions AS t (licence_id, version_number, start_date, end_date, status, external_id)
        SELECT DISTINCT ON (external_id) licence_id, version_number, start_date, end_date, status, external_id
        FROM source WHERE readable AND licence_id IS NOT NULL
        ORDER BY external_id, start_date, end_date, status, version_number
        ON CONFLICT (external_id) DO UPDATE
          {update_when_changed(("licence_id", "version_number", "start_date", "end_date", "status"))}
        RETURNING 1
    )
    SELECT count(*) AS total,
           count(*) FILTER (WHERE NOT readable) AS unreadable,
           count(*) FILTER (WHERE readable AND licence_id IS NULL) AS no_licence,
           count(*) FILTER (WHERE readable AND licence_id IS NOT NULL)
             - count(DISTINCT external_id) FILTER (WHERE readable AND licence_id IS NOT NULL) AS duplicates,
           (SELECT count(*) FROM written) AS written,
           (array_agg(external_id ORDER BY external_id) FILTER (WHERE NOT readable))[1:5] AS examples
    FROM source
""")

LOOKUPS = (
    ("status", ("STATUS",), mapping.return_version_status),
    ("version_no", ("VERS_NO",), required_integer),
    ("start_date", ("EFF_ST_DATE",), required_date),
    ("end_date", ("EFF_END_DATE",), nald_date),
)


def return_versions(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        result = connection.execute(UPSERT, lookup_params(ctx, connection, TABLE, LOOKUPS)).one()
    ctx.count("return_versions", result.total)
    ctx.count("return_versions_written", result.written)
    ctx.count("return_versions_unreadable", result.unreadable)
    ctx.count("return_versions_skipped_no_licence", result.no_licence)
    ctx.count("return_versions_duplicates", result.duplicates)
    report_rows(ctx, "return versions", result.unreadable, result.examples, result.duplicates)
    if result.no_licence:
        ctx.logger.info(
            "%d return versions left out: their licence is not in water.licences yet (licence-import adds it)",
            result.no_licence,
        )
