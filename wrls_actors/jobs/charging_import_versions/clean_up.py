"""Step clean-up: remove the NALD charge elements and versions NALD no longer has, in one transaction.

Legacy ``cleanupChargeElements`` / ``cleanupChargeVersions``, fixed:

- Elements: the legacy inner-joined NALD_CHG_ELEMENTS and then asked for its
  ID to be NULL, so it never deleted anything. Here an element goes when NALD
  no longer has it or its charge version is going.
- Versions: the legacy deleted versions that still had elements, which their
  foreign key refuses (or would orphan the elements). Here a stale version goes
  once it has no element left.

Billed history stays whatever NALD says: an element a bill run's transaction
or volume points at, and a version in ``water.billing_batch_charge_version_years``,
are kept and counted. Only ``source = 'nald'`` rows are ever touched, and
more than ``WRLS_MAX_DELETE_PERCENT`` of them at once is refused (nothing is
deleted) unless the run is forced (jobs/guards.py).
"""

from __future__ import annotations

from sqlalchemy import text

from ...config import config
from ...runtime import StepContext
from ..guards import check_deletion
from .charge_version_metadata import SROC_START

# Versions imported from NALD that the metadata no longer holds (before SROC).
_STALE_VERSIONS = """
    SELECT cv.charge_version_id FROM water.charge_versions cv
    WHERE cv.source = 'nald'
      AND NOT EXISTS (SELECT 1 FROM water_import.charge_versions_metadata m
                      WHERE m.external_id = cv.external_id AND m.start_date < :sroc_start)
"""

# Set-based on purpose: an EXISTS under OR is not turned into a join by PostgreSQL and ran once per
# element (200,000 elements: minutes); joins and IN (...) over unions are hashed.
DELETE_ELEMENTS = text(f"""
    WITH stale_versions AS ({_STALE_VERSIONS}), nald AS (
        SELECT concat_ws(':', e."FGAC_REGION_CODE", e."ID") AS external_id FROM import."NALD_CHG_ELEMENTS" e
    ), stale AS (
        SELECT ce.charge_element_id FROM water.charge_elements ce
        JOIN water.charge_versions cv ON cv.charge_version_id = ce.charge_version_id
        LEFT JOIN nald n ON n.external_id = ce.external_id
        LEFT JOIN stale_versions sv ON sv.charge_version_id = ce.charge_version_id
        WHERE cv.source = 'nald' AND (n.external_id IS NULL OR sv.charge_version_id IS NOT NULL)
    ), billed AS (
        SELECT charge_element_id FROM stale WHERE charge_element_id IN (
            SELECT charge_element_id FROM water.billing_transactions
            UNION SELECT charge_element_id FROM water.billing_volumes
            UNION SELECT charge_element_id FROM water.charge_purposes)
    ), deleted AS (
        DELETE FROM water.charge_elements WHERE charge_element_id IN (
            SELECT charge_element_id FROM stale EXCEPT SELECT charge_element_id FROM billed)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM deleted) AS deleted, (SELECT count(*) FROM billed) AS kept
""")

DELETE_VERSIONS = text(f"""
    WITH stale AS ({_STALE_VERSIONS}), kept AS (
        SELECT charge_version_id FROM stale WHERE charge_version_id IN (
            SELECT charge_version_id FROM water.billing_batch_charge_version_years
            UNION SELECT charge_version_id FROM water.charge_elements)
    ), deleted AS (
        DELETE FROM water.charge_versions WHERE charge_version_id IN (
            SELECT charge_version_id FROM stale EXCEPT SELECT charge_version_id FROM kept)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM deleted) AS deleted, (SELECT count(*) FROM kept) AS kept
""")


LIVE = text("""
    SELECT (SELECT count(*) FROM water.charge_elements ce
            JOIN water.charge_versions cv ON cv.charge_version_id = ce.charge_version_id
            WHERE cv.source = 'nald') AS elements,
           (SELECT count(*) FROM water.charge_versions WHERE source = 'nald') AS versions
""")


def clean_up(ctx: StepContext) -> None:
    params = {"sroc_start": SROC_START}
    max_percent = config().max_delete_percent
    with ctx.engine.begin() as connection:
        live = connection.execute(LIVE).one()
        elements = connection.execute(DELETE_ELEMENTS, params).one()
        check_deletion(
            ctx.params,
            table="water.charge_elements",
            deleting=elements.deleted,
            live=live.elements,
            max_percent=max_percent,
            rows="NALD rows",
        )
        versions = connection.execute(DELETE_VERSIONS, params).one()
        check_deletion(
            ctx.params,
            table="water.charge_versions",
            deleting=versions.deleted,
            live=live.versions,
            max_percent=max_percent,
            rows="NALD rows",
        )
    ctx.count("charge_elements_deleted", elements.deleted)
    ctx.count("charge_elements_kept_billed", elements.kept)
    ctx.count("charge_versions_deleted", versions.deleted)
    ctx.count("charge_versions_kept_billed", versions.kept)
    if elements.kept or versions.kept:
        ctx.logger.info(
            "kept %d charge elements and %d charge versions NALD no longer has: bill runs refer to them",
            elements.kept,
            versions.kept,
        )
