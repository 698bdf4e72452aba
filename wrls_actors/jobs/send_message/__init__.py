"""send-message: due ``water.scheduled_notification`` rows to GOV.UK Notify.

Every minute by schedule; a notice is sent at once with
``start-job {"job": "send-message", "params": {"event_id": "<event id>"}}``.
"""

from datetime import timedelta

from ...runtime import ALLOW, Job, Param, Step
from .send import send_messages

# ALLOW: a notice started by message runs even while the minute's run is going,
# and so does the next minute's (its schedule allows overlap too). Rows are
# claimed one by one, so two runs never send the same row, and every send takes
# a slot from the one shared rate limiter, so together they never pass it.
SEND_MESSAGE = Job(
    "send-message",
    queue="short",
    overlap=ALLOW,
    steps=(
        # Retries (2 s doubling) wait out a 429 or a short Notify incident for about half a minute;
        # after that the run fails and the next tick starts afresh.
        Step(
            "send",
            send_messages,
            time_limit=timedelta(minutes=2),
            max_retries=4,
            min_backoff=timedelta(seconds=2),
            max_backoff=timedelta(seconds=30),
        ),
    ),
    params=(
        Param(
            "event_id",
            str,
            max_length=100,
            help="a notice's event id; its `sending` rows are sent now, and such a start is never refused while a "
            "scheduled run is going. Without it: every due row",
        ),
    ),
)

JOBS = (SEND_MESSAGE,)
