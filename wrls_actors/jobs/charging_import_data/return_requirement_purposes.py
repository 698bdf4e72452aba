"""Step return-requirement-purposes: ``water.return_requirement_purposes`` from NALD_RET_FMT_PURPOSES,
in one transaction.

Legacy ``src/modules/charging-import/lib/queries/return-versions.js``
(importReturnRequirementPurposes): external id
``region:ARTY_ID:primary:secondary:use``, the requirement found by its
external id ``region:ARTY_ID``, the purposes by their codes, ``purpose_alias``
with ``'null'`` as NULL. Nothing here needs a rule beyond that, so it is one
statement. Purposes of a requirement that was not imported, and purposes
naming a code missing from the purposes tables, are left out and counted (the
legacy's inner joins dropped them silently).
"""

from __future__ import annotations

from sqlalchemy import text

from ...nald.sql import nald_text
from ...runtime import StepContext
from ..upsert import update_when_changed

COLUMNS = ("return_requirement_id", "purpose_primary_id", "purpose_secondary_id", "purpose_use_id", "purpose_alias")

UPSERT = text(f"""
    WITH source AS (
        SELECT concat_ws(':', p."FGAC_REGION_CODE", p."ARTY_ID", p."APUR_APPR_CODE", p."APUR_APSE_CODE",
                         p."APUR_APUS_CODE") AS external_id,
               r.return_requirement_id, pp.purpose_primary_id, ps.purpose_secondary_id, pu.purpose_use_id,
               {nald_text('p."PURP_ALIAS"')} AS purpose_alias,
               (r.return_requirement_id IS NOT NULL AND pp.purpose_primary_id IS NOT NULL
                AND ps.purpose_secondary_id IS NOT NULL AND pu.purpose_use_id IS NOT NULL) AS complete
        FROM import."NALD_RET_FMT_PURPOSES" p
        LEFT JOIN water.return_requirements r ON r.external_id = concat_ws(':', p."FGAC_REGION_CODE", p."ARTY_ID")
        LEFT JOIN water.purposes_primary pp ON pp.legacy_id = p."APUR_APPR_CODE"
        LEFT JOIN water.purposes_secondary ps ON ps.legacy_id = p."APUR_APSE_CODE"
        LEFT JOIN water.purposes_uses pu ON pu.legacy_id = p."APUR_APUS_CODE"
    ), written AS (
        INSERT INTO water.return_requirement_purposes AS t (
            return_requirement_id, purpose_primary_id, purpose_secondary_id, purpose_use_id, purpose_alias,
            external_id)
        SELECT DISTINCT ON (external_id) return_requirement_id, purpose_primary_id, purpose_secondary_id,
               purpose_use_id, purpose_alias, external_id
        FROM source WHERE complete
        ORDER BY external_id, purpose_alias
        ON CONFLICT (external_id) DO UPDATE
          {update_when_changed(COLUMNS)}
        RETURNING 1
    )
    SELECT count(*) AS total,
           count(*) FILTER (WHERE return_requirement_id IS NULL) AS no_requirement,
           count(*) FILTER (WHERE return_requirement_id IS NOT NULL AND NOT complete) AS unknown_purpose,
           count(*) FILTER (WHERE complete) - count(DISTINCT external_id) FILTER (WHERE complete) AS duplicates,
           (SELECT count(*) FROM written) AS written,
           (array_agg(external_id ORDER BY external_id)
              FILTER (WHERE return_requirement_id IS NOT NULL AND NOT complete))[1:5] AS examples
    FROM source
""")


def return_requirement_purposes(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        result = connection.execute(UPSERT).one()
    ctx.count("return_requirement_purposes", result.total)
    ctx.count("return_requirement_purposes_written", result.written)
    ctx.count("return_requirement_purposes_skipped_no_requirement", result.no_requirement)
    ctx.count("return_requirement_purposes_unknown_purpose", result.unknown_purpose)
    ctx.count("return_requirement_purposes_duplicates", result.duplicates)
    if result.duplicates:
        ctx.logger.warning(
            "%d return requirement purposes repeat the NALD key of another: one of each written "
            "(the one with an alias)",
            result.duplicates,
        )
    if result.unknown_purpose:
        ctx.logger.warning(
            "%d return requirement purposes left out: a purpose code is not in the purposes tables (first: %s)",
            result.unknown_purpose,
            ", ".join(result.examples or ()),
        )
    if result.no_requirement:
        ctx.logger.info(
            "%d return requirement purposes left out: their return requirement was not imported", result.no_requirement
        )
