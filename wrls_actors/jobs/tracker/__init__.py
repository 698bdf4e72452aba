"""tracker: one email (GOV.UK Notify) of everything that went wrong since the
previous report, grouped by job.

``wrls-actors tracker --dry-run`` prints the report a run would send now.
"""

from datetime import timedelta

from ...runtime import Job, Step
from .send import send_report

# Retries wait 5-10 s, then twice as long each time up to 5 minutes: 10 to 20
# minutes of trying, for a Notify incident or a rate limit to pass.
TRACKER = Job(
    "tracker",
    queue="short",
    steps=(
        Step(
            "send-report",
            send_report,
            time_limit=timedelta(minutes=2),
            max_retries=8,
            min_backoff=timedelta(seconds=5),
            max_backoff=timedelta(minutes=5),
        ),
    ),
)

JOBS = (TRACKER,)
