"""Step 5 of licence-import: every licence number of the extract, one import-licence child each.

Refuses to fan out licences that could only fail: when schema ``import`` lacks
a table import-licence reads, or when the WRLS reference data is missing (a
NALD region with no water.regions row, empty purpose tables, a missing
crm_v2 role). Then the run fails once, saying what to seed, rather than
71,000 times.

Legacy: DEFRA/water-abstraction-import (early 2024),
``src/modules/licence-import/jobs/queue-licences.js`` (every ``LIC_NO``,
duplicates included; here each licence number once).
"""

from sqlalchemy import text

from ...nald.sql import missing_tables
from ...runtime import PermanentError, StepContext
from .licence_import_rows import TABLES
from .write_licence_import import reference_data_gaps


def queue_licences(ctx: StepContext) -> list[str]:
    with ctx.engine.connect() as connection:
        missing = missing_tables(connection, TABLES)
        if missing:
            raise PermanentError(f"schema import lacks tables: {', '.join(missing)}")
        codes = (
            connection.execute(
                text("""
            SELECT DISTINCT "FGAC_REGION_CODE"::int FROM import."NALD_ABS_LICENCES"
            WHERE "FGAC_REGION_CODE" ~ '^\\s*\\d+\\s*$' ORDER BY 1""")
            )
            .scalars()
            .all()
        )
        gaps = reference_data_gaps(connection, codes)
        if gaps:
            raise PermanentError("cannot import licences: " + "; ".join(gaps))
        licences = (
            connection.execute(text('SELECT DISTINCT "LIC_NO" FROM import."NALD_ABS_LICENCES" ORDER BY "LIC_NO"'))
            .scalars()
            .all()
        )
    ctx.logger.info("%d licences to import", len(licences))
    return licences
