"""Step 2 of nald-import: CRM documents of licences no longer in NALD are marked deleted.

Only documents of the water regime, and only those not deleted already, so a
second run changes nothing. A licence that comes back is undeleted by
import-licence (the legacy never cleared ``date_deleted``). More than
``WRLS_MAX_DELETE_PERCENT`` of the live documents at once is refused unless
the run is forced (jobs/guards.py).
"""

from sqlalchemy import text

from ...config import config
from ...model.crm import WATER_REGIME_ENTITY_ID
from ...runtime import StepContext
from ..guards import check_deletion

LIVE = text("SELECT count(*) FROM crm.document_header WHERE date_deleted IS NULL AND regime_entity_id = :regime")

DELETE = text("""
    UPDATE crm.document_header d SET date_deleted = now(), date_updated = now()
    WHERE d.date_deleted IS NULL AND d.regime_entity_id = :regime
      AND NOT EXISTS (SELECT 1 FROM import."NALD_ABS_LICENCES" l WHERE l."LIC_NO" = d.system_external_id)
""")


def delete_removed_documents(ctx: StepContext) -> None:
    params = {"regime": WATER_REGIME_ENTITY_ID}
    with ctx.engine.begin() as connection:
        live = connection.execute(LIVE, params).scalar_one()
        deleted = connection.execute(DELETE, params).rowcount
        check_deletion(
            ctx.params,
            table="crm.document_header",
            deleting=deleted,
            live=live,
            max_percent=config().max_delete_percent,
            action="mark deleted",
        )
    ctx.count("documents_deleted", deleted)
    if deleted:
        ctx.logger.info("%d CRM documents marked deleted: their licences are no longer in NALD", deleted)
