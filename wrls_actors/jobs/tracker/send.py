"""tracker.send-report: the ledger's troubles since the previous report, in one email.

The legacy sent its email only when a pg-boss job had failed in the last 12
hours, and did not wait for it (``src/modules/core/jobs/import-tracker.js``).
Here the window runs from the start of the previous successful report to the
start of this run, the run succeeds only once Notify accepted the email, and
nothing is sent when nothing went wrong.

Exactly one email per window: the window ends at the run's start, so every
retry or redelivery of this step reads the same window and computes the same
Notify ``reference``; before sending, the step asks Notify for a notification
with that reference, so an email accepted just before a failure (the answer
lost, the worker killed) is not sent again. The window moves on only when the
run succeeds: a report that failed for good is covered by the next one.
"""

from __future__ import annotations

from ...config import config
from ...runtime import PermanentError, StepContext
from ..shared import notify_email as notify
from .gather import gather, window_ending
from .report import build_report, london_time, reference, summary


def send_report(ctx: StepContext) -> None:
    cfg = config()
    if not cfg.tracker_recipient:
        raise PermanentError("WRLS_TRACKER_RECIPIENT is not set: the tracker has nobody to report to")
    # Checked before reading anything, so a missing key fails every run, not only those with news.
    client = notify.client(cfg)
    window = window_ending(ctx.ledger, ctx.run().started_at)
    problems = gather(ctx.ledger, window)
    since = london_time(window.start)
    content = build_report(problems, cfg.environment, window)
    if content is None:
        ctx.logger.info("nothing went wrong since %s: no email", since)
        ctx.end_run(f"nothing to report since {since}")
        return
    total, jobs = summary(problems)
    ctx.count("problems", total)
    ctx.count("jobs_with_problems", jobs)
    ref = reference(cfg.environment, window)
    sent = notify.find_by_reference(client, ref)
    if sent is not None:
        ctx.logger.warning(
            "report %s was already accepted by Notify (notification %s): not sent again", ref, sent.get("id")
        )
        how = "already sent"
    else:
        sent = notify.send_email(client, cfg.tracker_recipient, cfg.tracker_template_id, {"content": content}, ref)
        ctx.count("emails_sent")
        how = "sent"
    ctx.logger.info(
        "report of %d problems in %d jobs since %s %s: notification %s", total, jobs, since, how, sent.get("id")
    )
    ctx.end_run(f"{total} problems in {jobs} jobs since {since}: {how} as notification {sent.get('id')}")
