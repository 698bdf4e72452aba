"""licence-updates.add-workflows: one ``to_setup`` workflow per new licence version.

Selection, with ``today`` the Europe/London day by the database's clock:
licence versions created since London's midnight at the start of the same day
two calendar months ago, not ``draft``, that never had a workflow (soft-deleted
ones block too: one workflow per licence version), and whose licence has no
charge version in a PRESROC bill run that is queued, processing, ready or in
review (WATER-3528: the PRESROC engine reads the charge information while it
runs; ``billing_batch_charge_version_years`` is that engine's table). The two
months let a version held back by a bill run go in once the run ends.

Each row's ``data.chargeVersionExists`` says whether the licence has any
charge version. A version the time-limited job already put into workflow is
left with that workflow: the legacy ran time-limited first on purpose, so that
its reason stands.

Safe to run twice, or twice at once: the insert is one transaction holding
this job's transaction lock, so a second run sees the first one's rows, and
``ON CONFLICT`` on the unique index of live workflows per licence version
skips a version another writer put into workflow meanwhile.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import text

from ...runtime import StepContext
from ..shared import london

MONTHS_BACK = 2
LIVE_BILL_RUN = ("queued", "processing", "ready", "review")

LOCK = text("SELECT pg_advisory_xact_lock(hashtext('wrls:licence-updates'))")

# date_created is a timestamp without time zone; compared with the timestamptz
# bound, PostgreSQL reads it in the session's time zone, the one its now()
# default was written in.
ADD = text("""
INSERT INTO water.charge_version_workflows (licence_id, licence_version_id, status, data, date_created, date_updated)
SELECT lv.licence_id, lv.licence_version_id, 'to_setup',
       jsonb_build_object('chargeVersion', NULL, 'chargeVersionExists',
                          EXISTS (SELECT 1 FROM water.charge_versions cv WHERE cv.licence_id = lv.licence_id)),
       now(), now()
  FROM water.licence_versions lv
 WHERE lv.date_created >= :since
   AND lv.status <> 'draft'
   AND NOT EXISTS (SELECT 1 FROM water.charge_version_workflows w WHERE w.licence_version_id = lv.licence_version_id)
   AND NOT EXISTS (
        SELECT 1
          FROM water.charge_versions cv
          JOIN water.billing_batch_charge_version_years y ON y.charge_version_id = cv.charge_version_id
          JOIN water.billing_batches b ON b.billing_batch_id = y.billing_batch_id
         WHERE cv.licence_id = lv.licence_id AND b.status = ANY(:live))
 ORDER BY lv.licence_version_id
ON CONFLICT (licence_version_id) WHERE date_deleted IS NULL DO NOTHING
RETURNING 1
""")


def window_start(today: date) -> datetime:
    """Versions created from this instant on are new: London's midnight two calendar months before today."""
    return london.midnight(london.months_before(today, MONTHS_BACK))


def add_workflows(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        connection.execute(LOCK)
        today = london.today_by_database(connection)
        since = window_start(today)
        added = len(connection.execute(ADD, {"since": since, "live": list(LIVE_BILL_RUN)}).all())
    ctx.count("workflows_added", added)
    note = f"{added} licence versions created since {since.date()} put into charge version workflow"
    ctx.logger.info("%s", note)
    ctx.end_run(note)
