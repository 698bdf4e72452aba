"""refresh-event: notices' counts, and completed once every message is settled."""

from datetime import timedelta

from ...runtime import Job, Step
from .refresh import refresh_events

# No retry: the next minute's tick does the same work.
REFRESH_EVENT = Job(
    "refresh-event",
    queue="short",
    steps=(Step("refresh", refresh_events, time_limit=timedelta(minutes=1), max_retries=0),),
)

JOBS = (REFRESH_EVENT,)
