"""Task expired-sessions: the web sessions created over a day ago.

A session holds a journey's answers until they are saved; nothing reads one
after a day. The sessions are the system's scratch space, not records, so no
deletion guard applies: all of them going at once is normal.
"""

from __future__ import annotations

from ...config import config
from ...runtime import StepContext
from .batches import count, delete_in_batches

EXPIRED = "SELECT id FROM public.sessions WHERE created_at < now() - interval '1 day'"


def delete_expired_sessions(ctx: StepContext) -> None:
    deleted, batches = delete_in_batches(ctx.engine, "public.sessions", "id", EXPIRED, config().clean_batch_rows)
    count(ctx, "expired_sessions", deleted, batches)
