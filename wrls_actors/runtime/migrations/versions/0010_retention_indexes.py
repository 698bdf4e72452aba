"""Indexes of what retention looks for in a week before dropping it: failed steps, a backfill's queued ticks.

Before a week of ``jobs.steps`` is dropped, its failed, timed-out and
dead-lettered steps are copied to the archive. Found by a scan of the week,
that took 180 to 320 ms a week at production rates, about 9 s of a first
pass over a year. The index holds only those steps, so a writer that
records a success pays only the predicate's check; and since ``steps_active``
already indexes ``status``, no update that was HOT before stops being so.

A week of ticks was read the same way for a backfill's queued ticks (35 ms a
week); ``ticks_backfill_queued`` holds only those.

Built on every partition at once: on a year's ledger (bench/ledger_scale.py)
the upgrade took 21 s, in which writes to ``jobs.steps`` and ``jobs.ticks``
wait; upgrade with the service stopped, as for 0009.

Revision ID: 0010
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

FAILED = "status IN ('failed', 'timed-out', 'dead-lettered')"


def upgrade() -> None:
    op.execute(f"CREATE INDEX steps_failed ON jobs.steps (created_on) WHERE {FAILED}")
    op.execute("CREATE INDEX ticks_backfill_queued ON jobs.ticks (nominal_time) WHERE outcome = 'backfill-queued'")


def downgrade() -> None:
    op.execute("DROP INDEX jobs.ticks_backfill_queued")
    op.execute("DROP INDEX jobs.steps_failed")
