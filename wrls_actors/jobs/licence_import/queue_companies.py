"""Step 3 of licence-import: every NALD party, one import-company child each.

The legacy copied the parties into ``water_import.import_companies`` and
started the licence stage when no row was left unimported, so one failed
company held back every licence for the night. Here the runtime's fan-in
waits for every child, failed or not, and the job's ``on_child_failure`` decides; no table is kept.

Before the children start: the crm_v2 roles they link to are created if
missing, and the extract gets the indexes the reads by party need
(:func:`company_rows.ensure_indexes`).

Legacy: ``src/modules/licence-import/jobs/queue-companies.js``,
``connectors/queries/import-companies.js``.
"""

from __future__ import annotations

from sqlalchemy import text

from ...nald.sql import missing_tables
from ...runtime import PermanentError, StepContext
from .company_rows import SCHEMA, TABLES_READ, ensure_indexes
from .company_transforms import party_key
from .write_company import ensure_roles

PARTIES = text(
    f'SELECT DISTINCT "FGAC_REGION_CODE", "ID" FROM {SCHEMA}."NALD_PARTIES" '
    f'WHERE "FGAC_REGION_CODE" IS NOT NULL AND "ID" IS NOT NULL'
)


def party_items(connection) -> list[str]:
    """Every party as ``"<FGAC_REGION_CODE>:<ID>"`` (its company's external id), in region then id order."""
    return sorted((f"{region}:{party}" for region, party in connection.execute(PARTIES)), key=party_key)


def queue_companies(ctx: StepContext) -> list[str]:
    with ctx.engine.begin() as connection:
        missing = missing_tables(connection, TABLES_READ)
        if missing:
            raise PermanentError(f"schema {SCHEMA} lacks tables: {', '.join(missing)}")
        roles = ensure_roles(connection)
        built = ensure_indexes(connection)
        parties = party_items(connection)
    if roles:
        ctx.logger.info("created %d crm_v2 roles", roles)
    if built:
        ctx.logger.info("built indexes %s on schema %s", ", ".join(built), SCHEMA)
    ctx.logger.info("%d parties to import", len(parties))
    return parties
