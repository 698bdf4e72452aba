"""time-limited.add-workflows: one ``to_setup`` workflow per SROC licence whose time limit is near.

Selection, with ``today`` the Europe/London day by the database's clock: licences
not expired by today (an expiry of today counts as expired) and with no revoked
or lapsed date, having a ``current`` licence version and a current, open-ended
SROC charge version with a charge purpose whose ``time_limited_end_date`` is
before today + 50 days (past dates too: 49 days ahead is in, 50 out), and with
no live workflow (of any status; soft-deleted ones do not block).

One row per licence: its newest current licence version (issue, then
increment) and its newest such charge version, which the row's
``data.timeLimitedChargeVersionId`` names. The legacy wrote one row per
combination, so two current licence versions or two open SROC charge versions
gave several rows, and a licence version met twice broke the unique index of
live workflows and aborted the run with the rows before it already written.

Safe to run twice, or twice at once: the insert is one transaction holding
this job's transaction lock, so a second run sees the first one's rows, and
``ON CONFLICT`` on the unique index of live workflows per licence version
skips a version another writer (licence-updates, the service app's job, a
user) put into workflow meanwhile.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text

from ...runtime import StepContext
from ..shared import london

DAYS_AHEAD = 50

LOCK = text("SELECT pg_advisory_xact_lock(hashtext('wrls:time-limited'))")

ADD = text("""
INSERT INTO water.charge_version_workflows (licence_id, licence_version_id, status, data, date_created, date_updated)
SELECT licence_id, licence_version_id, 'to_setup',
       jsonb_build_object('chargeVersion', NULL, 'timeLimitedChargeVersionId', charge_version_id), now(), now()
  FROM (
    SELECT DISTINCT ON (l.licence_id) l.licence_id, lv.licence_version_id, cv.charge_version_id
      FROM water.licences l
      JOIN water.licence_versions lv ON lv.licence_id = l.licence_id AND lv.status = 'current'
      JOIN water.charge_versions cv
        ON cv.licence_id = l.licence_id AND cv.scheme = 'sroc' AND cv.status = 'current' AND cv.end_date IS NULL
     WHERE (l.expired_date IS NULL OR l.expired_date > :today)
       AND l.revoked_date IS NULL
       AND l.lapsed_date IS NULL
       AND EXISTS (
            SELECT 1
              FROM water.charge_elements ce
              JOIN water.charge_purposes cp ON cp.charge_element_id = ce.charge_element_id
             WHERE ce.charge_version_id = cv.charge_version_id AND cp.time_limited_end_date < :before)
       AND NOT EXISTS (
            SELECT 1 FROM water.charge_version_workflows w
             WHERE w.licence_id = l.licence_id AND w.date_deleted IS NULL)
     ORDER BY l.licence_id, lv.issue DESC, lv.increment DESC, lv.start_date DESC, lv.licence_version_id,
              cv.start_date DESC, cv.version_number DESC, cv.charge_version_id
  ) due
 ORDER BY licence_version_id
ON CONFLICT (licence_version_id) WHERE date_deleted IS NULL DO NOTHING
RETURNING 1
""")


def window_end(today: date) -> date:
    """Time-limited end dates before this day are due: today + 50 days, so 49 days ahead is in and 50 out."""
    return today + timedelta(days=DAYS_AHEAD)


def add_workflows(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        connection.execute(LOCK)
        today = london.today_by_database(connection)
        added = len(connection.execute(ADD, {"today": today, "before": window_end(today)}).all())
    ctx.count("workflows_added", added)
    note = f"{added} time-limited licences put into charge version workflow (end dates before {window_end(today)})"
    ctx.logger.info("%s", note)
    ctx.end_run(note)
