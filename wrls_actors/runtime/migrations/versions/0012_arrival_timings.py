"""An arrival carries its child's timings: a successful child keeps no jobs.steps row of its own.

A fan-out child that succeeds at its first attempt and first delivery is
recorded by its arrival alone: its ``started_at`` and ``duration_ms`` here,
its counts and ``arrived_at`` as before. Its ``jobs.steps`` row, written
running when it started (so that a worker killed mid-step leaves a row its
redelivery is counted against), is deleted once it has arrived. A child that
failed, was retried, redelivered or stalled keeps its full row.

Nullable columns without a default rewrite nothing; arrivals of before have
none.

Revision ID: 0012
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE jobs.barrier_arrivals ADD COLUMN started_at timestamptz, ADD COLUMN duration_ms double precision"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE jobs.barrier_arrivals DROP COLUMN duration_ms, DROP COLUMN started_at")
