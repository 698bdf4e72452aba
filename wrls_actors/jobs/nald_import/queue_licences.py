"""Step 3 of nald-import: every licence number of the extract, one import-licence child each.

Refuses an ``import`` schema that lacks a table import-licence reads: it can
only happen if someone replaced the schema by hand, since s3-download never
swaps in an incomplete one (the legacy's only check was "at least 125 tables").
"""

from sqlalchemy import text

from ...model.nald import NALD_TABLES, S as IMPORT_SCHEMA
from ...runtime import PermanentError, StepContext


def missing_tables(connection) -> list[str]:
    present = {r.table_name for r in connection.execute(
        text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"), {"s": IMPORT_SCHEMA})}
    return [t.name for t in NALD_TABLES if t.name not in present]


def queue_licences(ctx: StepContext) -> list[str]:
    with ctx.engine.connect() as connection:
        missing = missing_tables(connection)
        if missing:
            raise PermanentError(f"schema {IMPORT_SCHEMA} lacks tables: {', '.join(missing)}")
        licences = connection.execute(
            text('SELECT DISTINCT "LIC_NO" FROM import."NALD_ABS_LICENCES" ORDER BY "LIC_NO"')).scalars().all()
    ctx.logger.info("%d licences to import", len(licences))
    return licences
