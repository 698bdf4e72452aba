"""Step clean-up: remove the NALD charge elements and versions NALD no longer has, in one transaction.

Legacy ``cleanupChargeElements`` / ``cleanupChargeVersions`` (legacy/import.md
§4), fixed (pain point 9):

- Elements: the legacy inner-joined NALD_CHG_ELEMENTS and then asked for its
  ID to be NULL, so it never deleted anything. Here an element goes when NALD
  no longer has it or its charge version is going.
- Versions: the legacy deleted versions that still had elements, which their
  foreign key refuses (or would orphan the elements). Here a stale version goes
  once it has no element left.

Billed history stays whatever NALD says: an element a bill run's transaction
or volume points at, and a version in ``water.billing_batch_charge_version_years``,
are kept and counted. Only ``source = 'nald'`` rows are ever touched.
"""

from __future__ import annotations

from sqlalchemy import text

from ...runtime import StepContext
from .charge_version_metadata import SROC_START

# Versions imported from NALD that the metadata no longer holds (before SROC).
_STALE_VERSIONS = """
    SELECT cv.charge_version_id FROM water.charge_versions cv
    WHERE cv.source = 'nald'
      AND NOT EXISTS (SELECT 1 FROM water_import.charge_versions_metadata m
                      WHERE m.external_id = cv.external_id AND m.start_date < :sroc_start)
"""

DELETE_ELEMENTS = text(f"""
    WITH stale AS (
        SELECT ce.charge_element_id FROM water.charge_elements ce
        JOIN water.charge_versions cv ON cv.charge_version_id = ce.charge_version_id
        WHERE cv.source = 'nald'
          AND (NOT EXISTS (SELECT 1 FROM import."NALD_CHG_ELEMENTS" e
                           WHERE concat_ws(':', e."FGAC_REGION_CODE", e."ID") = ce.external_id)
               OR ce.charge_version_id IN ({_STALE_VERSIONS}))
    ), billed AS (
        SELECT s.charge_element_id FROM stale s
        WHERE EXISTS (SELECT 1 FROM water.billing_transactions t WHERE t.charge_element_id = s.charge_element_id)
           OR EXISTS (SELECT 1 FROM water.billing_volumes bv WHERE bv.charge_element_id = s.charge_element_id)
           OR EXISTS (SELECT 1 FROM water.charge_purposes p WHERE p.charge_element_id = s.charge_element_id)
    ), deleted AS (
        DELETE FROM water.charge_elements WHERE charge_element_id IN (SELECT charge_element_id FROM stale)
          AND charge_element_id NOT IN (SELECT charge_element_id FROM billed)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM deleted) AS deleted, (SELECT count(*) FROM billed) AS kept
""")

DELETE_VERSIONS = text(f"""
    WITH stale AS ({_STALE_VERSIONS}), kept AS (
        SELECT s.charge_version_id FROM stale s
        WHERE EXISTS (SELECT 1 FROM water.billing_batch_charge_version_years y
                      WHERE y.charge_version_id = s.charge_version_id)
           OR EXISTS (SELECT 1 FROM water.charge_elements ce WHERE ce.charge_version_id = s.charge_version_id)
    ), deleted AS (
        DELETE FROM water.charge_versions WHERE charge_version_id IN (SELECT charge_version_id FROM stale)
          AND charge_version_id NOT IN (SELECT charge_version_id FROM kept)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM deleted) AS deleted, (SELECT count(*) FROM kept) AS kept
""")


def clean_up(ctx: StepContext) -> None:
    params = {"sroc_start": SROC_START}
    with ctx.engine.begin() as connection:
        elements = connection.execute(DELETE_ELEMENTS, params).one()
        versions = connection.execute(DELETE_VERSIONS, params).one()
    ctx.count("charge_elements_deleted", elements.deleted)
    ctx.count("charge_elements_kept_billed", elements.kept)
    ctx.count("charge_versions_deleted", versions.deleted)
    ctx.count("charge_versions_kept_billed", versions.kept)
    if elements.kept or versions.kept:
        ctx.logger.info("kept %d charge elements and %d charge versions NALD no longer has: bill runs refer "
                        "to them", elements.kept, versions.kept)
