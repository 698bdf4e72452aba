"""Step 2 of nald-import: CRM documents of licences no longer in NALD are marked deleted.

Only documents of the water regime, and only those not deleted already, so a
second run changes nothing. A licence that comes back is undeleted by
import-licence (the legacy never cleared ``date_deleted``).
"""

from sqlalchemy import text

from ...model.crm import WATER_REGIME_ENTITY_ID
from ...runtime import StepContext

DELETE = text("""
    UPDATE crm.document_header d SET date_deleted = now(), date_updated = now()
    WHERE d.date_deleted IS NULL AND d.regime_entity_id = :regime
      AND NOT EXISTS (SELECT 1 FROM import."NALD_ABS_LICENCES" l WHERE l."LIC_NO" = d.system_external_id)
""")


def delete_removed_documents(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        deleted = connection.execute(DELETE, {"regime": WATER_REGIME_ENTITY_ID}).rowcount
    ctx.count("documents_deleted", deleted)
    if deleted:
        ctx.logger.info("%d CRM documents marked deleted: their licences are no longer in NALD", deleted)
