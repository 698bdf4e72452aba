"""check-status: the delivery status of sent notifications, from GOV.UK Notify."""

from datetime import timedelta

from ...runtime import Job, Step
from .check import check_statuses

# No retry: a tick that failed is followed by the next one 15 seconds later.
CHECK_STATUS = Job(
    "check-status",
    queue="short",
    steps=(Step("check", check_statuses, time_limit=timedelta(minutes=1), max_retries=0),),
)

JOBS = (CHECK_STATUS,)
