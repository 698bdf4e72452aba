"""Workers and their heartbeats; the worker a step started on; a dead letter replayed once.

Revision ID: 0006
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per worker process (hostname:pid), kept after it stops so the console can say when it did.
    op.execute(
        "CREATE TABLE jobs.workers (worker_id text PRIMARY KEY, hostname text NOT NULL, pid integer NOT NULL, "
        "queues text[] NOT NULL, started_at timestamptz NOT NULL DEFAULT now(), "
        "heartbeat_at timestamptz NOT NULL DEFAULT now(), stopped_at timestamptz)"
    )
    # Nullable without a default: PostgreSQL adds it without rewriting the table.
    op.execute("ALTER TABLE jobs.steps ADD COLUMN worker text")
    # "Replay once" is this index: a second `replayed` event of a message cannot be committed.
    op.execute("CREATE UNIQUE INDEX events_replayed_once ON jobs.events (message_id) WHERE kind = 'replayed'")
    # A dead letter's reason is read by its message id.
    op.execute("CREATE INDEX events_message ON jobs.events (message_id) WHERE message_id IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX jobs.events_message")
    op.execute("DROP INDEX jobs.events_replayed_once")
    op.execute("ALTER TABLE jobs.steps DROP COLUMN worker")
    op.execute("DROP TABLE jobs.workers")
