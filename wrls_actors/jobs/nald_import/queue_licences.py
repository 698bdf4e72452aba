"""Step 3 of nald-import: every licence number of the extract, one import-licence child each.

Refuses an ``import`` schema that lacks a table import-licence reads: it can
only happen if someone replaced the schema by hand, since s3-download never
swaps in an incomplete one (the legacy's only check was "at least 125 tables").
"""

from collections.abc import Iterable

from sqlalchemy import text

from ...model.nald import NALD_TABLES, S as IMPORT_SCHEMA
from ...runtime import PermanentError, StepContext


def missing_tables(connection, tables: Iterable[str] | None = None) -> list[str]:
    """Which of ``tables`` (default: every NALD table of the model) schema ``import`` lacks."""
    present = {r.table_name for r in connection.execute(
        text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"), {"s": IMPORT_SCHEMA})}
    wanted = [t.name for t in NALD_TABLES] if tables is None else list(tables)
    return [t for t in wanted if t not in present]


def queue_licences(ctx: StepContext) -> list[str]:
    with ctx.engine.connect() as connection:
        missing = missing_tables(connection)
        if missing:
            raise PermanentError(f"schema {IMPORT_SCHEMA} lacks tables: {', '.join(missing)}")
        licences = connection.execute(
            text('SELECT DISTINCT "LIC_NO" FROM import."NALD_ABS_LICENCES" ORDER BY "LIC_NO"')).scalars().all()
    ctx.logger.info("%d licences to import", len(licences))
    return licences
