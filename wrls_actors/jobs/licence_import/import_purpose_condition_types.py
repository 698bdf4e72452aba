"""Step 2 of licence-import: NALD's condition types that affect abstraction into
water.licence_version_purpose_condition_types.

Upserted on (code, subcode), a row changing only when its descriptions
differ. A subcode description of NALD's ``'null'`` is stored as NULL (the
legacy stored the string); one row per (CODE, SUBCODE) should NALD repeat one.

Legacy: DEFRA/water-abstraction-import (early 2024),
``src/modules/licence-import/connectors/queries/purpose-condition-types.js``.
"""

from sqlalchemy import text

from ...nald.sql import nald_text
from ...runtime import StepContext

UPSERT = text(f"""
    INSERT INTO water.licence_version_purpose_condition_types AS t (code, subcode, description, subcode_description)
    SELECT DISTINCT ON ("CODE", "SUBCODE") "CODE", "SUBCODE", "DESCR", {nald_text('"SUBCODE_DESC"')}
    FROM import."NALD_LIC_COND_TYPES"
    WHERE "AFFECTS_ABS" = 'Y'
    ORDER BY "CODE", "SUBCODE", "DESCR", "SUBCODE_DESC"
    ON CONFLICT (code, subcode) DO UPDATE
      SET description = excluded.description, subcode_description = excluded.subcode_description,
          date_updated = now()
      WHERE (t.description, t.subcode_description) IS DISTINCT FROM (excluded.description, excluded.subcode_description)
""")


def import_purpose_condition_types(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        written = connection.execute(UPSERT).rowcount
    ctx.count("condition_types_written", written)
