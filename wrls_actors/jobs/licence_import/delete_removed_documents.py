"""Step 1 of licence-import: crm_v2 documents of licences no longer in NALD are marked deleted.

Only water abstraction licence documents not deleted already, so a second run
changes nothing; a licence that comes back is undeleted by import-licence.
NOT EXISTS rather than the legacy's NOT IN, which marks nothing at all if one
LIC_NO is NULL. An empty or missing NALD_ABS_LICENCES fails the step instead
of marking every document deleted, and more than ``WRLS_MAX_DELETE_PERCENT``
of the live documents at once is refused unless the run is forced
(jobs/guards.py).

Legacy: DEFRA/water-abstraction-import (early 2024),
``src/modules/licence-import/connectors/queries/documents.js`` (it left
``date_updated`` as it was; here it is the deletion time).
"""

from sqlalchemy import text

from ...config import config
from ...runtime import PermanentError, StepContext
from ..guards import check_deletion

_DOCUMENTS = "d.date_deleted IS NULL AND d.regime = 'water' AND d.document_type = 'abstraction_licence'"
LIVE = text(f"SELECT count(*) FROM crm_v2.documents d WHERE {_DOCUMENTS}")

DELETE = text(f"""
    UPDATE crm_v2.documents d SET date_deleted = now(), date_updated = now()
    WHERE {_DOCUMENTS}
      AND NOT EXISTS (SELECT 1 FROM import."NALD_ABS_LICENCES" l WHERE l."LIC_NO" = d.document_ref)
""")


def delete_removed_documents(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        if not connection.execute(text("SELECT to_regclass('import.\"NALD_ABS_LICENCES\"') IS NOT NULL")).scalar():
            raise PermanentError("schema import has no table NALD_ABS_LICENCES: run nald-import first")
        if not connection.execute(text('SELECT EXISTS (SELECT 1 FROM import."NALD_ABS_LICENCES")')).scalar():
            raise PermanentError("import.NALD_ABS_LICENCES is empty: refusing to mark every licence document deleted")
        live = connection.execute(LIVE).scalar_one()
        deleted = connection.execute(DELETE).rowcount
        check_deletion(
            ctx.params,
            table="crm_v2.documents",
            deleting=deleted,
            live=live,
            max_percent=config().max_delete_percent,
            action="mark deleted",
        )
    ctx.count("documents_deleted", deleted)
    if deleted:
        ctx.logger.info("%d crm_v2 documents marked deleted: their licences are no longer in NALD", deleted)
