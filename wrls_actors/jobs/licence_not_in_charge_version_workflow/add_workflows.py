"""licence-not-in-charge-version-workflow.add-workflows: one ``to_setup`` workflow per licence version.

Selection (cut-off = now − 2 months): licence versions
created since the cut-off, and the current or superseded versions of licences
with no charge version (matched by licence ref); minus versions that already
have a workflow, soft-deleted ones included, and licences with a charge version
in a bill run in review or ready (the charge information must not change under
a bill run being checked).

Safe to run twice, or twice at once: the insert waits for a transaction lock
of this job, so a second run sees the first one's rows, and ``ON CONFLICT DO
NOTHING`` leaves alone a version that another writer (the system app's
time-limited job, a user) put into workflow meanwhile, which the water
service's unique index on live workflows per licence version would refuse.
"""

from __future__ import annotations

from sqlalchemy import text

from ...runtime import StepContext

LOCK = text("SELECT pg_advisory_xact_lock(hashtext('wrls:licence-not-in-charge-version-workflow'))")

ADD = text("""
WITH candidates AS (
    SELECT lv.licence_version_id, lv.licence_id
      FROM water.licence_versions lv
     WHERE lv.date_created >= now() - interval '2 months'
    UNION
    SELECT lv.licence_version_id, lv.licence_id
      FROM water.licence_versions lv
      JOIN water.licences l ON l.licence_id = lv.licence_id
     WHERE lv.status IN ('current', 'superseded')
       AND NOT EXISTS (SELECT 1 FROM water.charge_versions cv WHERE cv.licence_ref = l.licence_ref)
)
INSERT INTO water.charge_version_workflows (licence_id, licence_version_id, status, data, date_created, date_updated)
SELECT c.licence_id, c.licence_version_id, 'to_setup', '{"chargeVersion": null}'::jsonb, now(), now()
  FROM candidates c
 WHERE NOT EXISTS (SELECT 1 FROM water.charge_version_workflows w WHERE w.licence_version_id = c.licence_version_id)
   AND NOT EXISTS (
        SELECT 1
          FROM water.charge_versions cv
          JOIN water.billing_batch_charge_version_years y ON y.charge_version_id = cv.charge_version_id
          JOIN water.billing_batches b ON b.billing_batch_id = y.billing_batch_id
         WHERE cv.licence_id = c.licence_id AND b.status IN ('review', 'ready'))
 ORDER BY c.licence_version_id
ON CONFLICT DO NOTHING
RETURNING 1
""")


def add_workflows(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        connection.execute(LOCK)
        added = len(connection.execute(ADD).all())
    ctx.count("workflows_added", added)
    ctx.logger.info("%d licence versions put into charge version workflow", added)
    ctx.end_run(f"{added} licence versions put into charge version workflow")
