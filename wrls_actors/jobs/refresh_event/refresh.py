"""refresh-event.refresh: a notice's counts, and ``completed`` once every row is final.

Events: ``type = 'notification'``, ``status = 'sending'``, created in the last
7 days (as the legacy ``notifications.refreshEvent``). A row is final once
send-message settled it: ``sent`` or ``error`` (or ``cancelled``/``returned``,
set by other services). ``metadata.sent`` and ``metadata.error`` are the
counts; the event becomes ``completed`` when no row is left to send.

One statement for all events, touching only ``metadata``'s two counts,
``status`` and ``modified``: the legacy reloaded each event and saved the whole
row back, which could undo a change made meanwhile. An event whose counts did
not change is not written.
"""

from __future__ import annotations

from sqlalchemy import text

from ...runtime import StepContext

FINAL = ("sent", "error", "cancelled", "returned")

REFRESH = text("""
WITH counts AS (
  SELECT e.event_id,
         count(n.id) FILTER (WHERE n.status = 'sent') AS sent,
         count(n.id) FILTER (WHERE n.status = 'error') AS error,
         count(n.id) FILTER (WHERE n.status IS NULL OR n.status <> ALL(:final)) AS unsettled
  FROM water.events e
  LEFT JOIN water.scheduled_notification n ON n.event_id = e.event_id
  WHERE e.type = 'notification' AND e.status = 'sending' AND e.created > now() - interval '7 days'
  GROUP BY e.event_id
)
UPDATE water.events e SET
  metadata = coalesce(e.metadata, '{}'::jsonb) || jsonb_build_object('sent', c.sent, 'error', c.error),
  status = CASE WHEN c.unsettled = 0 THEN 'completed' ELSE e.status END,
  modified = now()
FROM counts c
WHERE e.event_id = c.event_id AND e.status = 'sending'
  AND (c.unsettled = 0
       OR e.metadata->'sent' IS DISTINCT FROM to_jsonb(c.sent)
       OR e.metadata->'error' IS DISTINCT FROM to_jsonb(c.error))
RETURNING e.status
""")


def refresh_events(ctx: StepContext) -> None:
    with ctx.engine.begin() as connection:
        statuses = connection.execute(REFRESH, {"final": list(FINAL)}).scalars().all()
    completed = sum(1 for s in statuses if s == "completed")
    # Only what happened is counted: a minute with nothing to do leaves the run's counts empty.
    if statuses:
        ctx.count("events_updated", len(statuses))
    if completed:
        ctx.count("events_completed", completed)
    ctx.end_run(f"{len(statuses)} events updated, {completed} completed")
