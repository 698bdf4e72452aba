"""Every schedule of WRLS: the one table that drives periodiq, the timeline,
catch-up and ``wrls-actors schedule``; docs/jobs/README.md lists it (a test
compares the two).

Times are Europe/London. Sunday is written 7, never 0. Any schedule can be
changed or switched off without a code change: ``WRLS_SCHEDULE_<JOB>`` set to
a cron expression, ``every 15s`` or ``off``.
"""

from datetime import timedelta

from .runtime import ALLOW, NONE, Schedule

IMPORT, SERVICE, SYSTEM = "water-abstraction-import", "water-abstraction-service", "water-abstraction-system"

SCHEDULES: tuple[Schedule, ...] = (
    Schedule("tracker", cron="0 10 * * 1-5", title="Tracker", note=IMPORT),
    Schedule("customer-file-refresh", cron="0 * * * *", title="Customer file refresh", note=SERVICE),
    Schedule(
        "check-for-updated-invoice-accounts",
        cron="0 0,12 * * *",
        title="Check for updated invoice accounts",
        note=SERVICE,
    ),
    Schedule(
        "licence-not-in-charge-version-workflow",
        cron="0 0,6,12,18 * * *",
        title="Licence not in charge version workflow",
        note=SERVICE,
    ),
    Schedule("charge-categories-sync", cron="0 4,10,16,22 * * *", title="Charge Categories Sync", note=SERVICE),
    Schedule("gauging-stations-sync", cron="0 4,10,16,22 * * *", title="Gauging Stations Sync", note=SERVICE),
    Schedule(
        "digitise-to-licence-gauging-stations",
        cron="0 18 * * *",
        title="Digitise To Licence Gauging Stations",
        note=SERVICE,
    ),
    Schedule(
        "digitise-to-lvp-sync", cron="0 18 * * *", title="Digitise to Licence Version Purpose (LVP) Sync", note=SERVICE
    ),
    Schedule("time-limited", cron="15 20 * * *", title="Time limited", note=SYSTEM),
    Schedule("licence-updates", cron="15 8 * * *", title="Licence updates", note=SYSTEM),
    # Not in the seed's day (its session-cleanup ran on demand): the legacy scheduled it at 21:15 later.
    Schedule("clean", cron="15 21 * * *", title="Clean", note=SYSTEM),
    Schedule("charging-import-data", cron="0 1 * * 1-5", title="Charging import (data)", note=IMPORT),
    Schedule("nald-import", cron="0 1 * * *", title="NALD import", note=IMPORT),
    Schedule("licence-import", cron="0 4 * * 1-5", title="Licence import", note=IMPORT),
    # Sub-minute and every-minute work: a missed tick is not worth running late.
    Schedule("check-status", every=timedelta(seconds=15), catch_up=NONE, title="Check status", note=SERVICE),
    Schedule("refresh-event", every=timedelta(seconds=60), catch_up=NONE, title="Refresh event", note=SERVICE),
    # A send-message run goes on for up to SEND_FOR_S (100 s), so the next minute's run starts beside it and
    # sending never pauses between ticks; their sends share one rate limiter and they never take the same row.
    Schedule(
        "send-message", every=timedelta(seconds=60), catch_up=NONE, overlap=ALLOW, title="Send message", note=SERVICE
    ),
)
