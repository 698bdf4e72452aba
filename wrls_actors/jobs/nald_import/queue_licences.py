"""Step 3 of nald-import: every licence number of the extract, one import-licence child each.

Refuses an ``import`` schema that lacks a table import-licence reads: it can
only happen if someone replaced the schema by hand, since s3-download never
swaps in an incomplete one (the legacy's only check was "at least 125 tables").
"""

from sqlalchemy import text

from ...model.nald import S as IMPORT_SCHEMA
from ...nald.sql import missing_tables
from ...runtime import PermanentError, StepContext


def queue_licences(ctx: StepContext) -> list[str]:
    with ctx.engine.connect() as connection:
        missing = missing_tables(connection)
        if missing:
            raise PermanentError(f"schema {IMPORT_SCHEMA} lacks tables: {', '.join(missing)}")
        licences = (
            connection.execute(text('SELECT DISTINCT "LIC_NO" FROM import."NALD_ABS_LICENCES" ORDER BY "LIC_NO"'))
            .scalars()
            .all()
        )
    ctx.logger.info("%d licences to import", len(licences))
    return licences
