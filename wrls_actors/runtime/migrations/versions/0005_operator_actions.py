"""Operator actions: who did what and why, on the event they leave; paused schedules; operators' accounts.

Revision ID: 0005
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE jobs.events ADD COLUMN operator text, ADD COLUMN reason text")
    # A schedule is paused while it has a row: its ticks are claimed as `paused`, none starts its job.
    op.execute(
        "CREATE TABLE jobs.schedule_pauses (schedule text PRIMARY KEY, paused_at timestamptz NOT NULL DEFAULT now(), "
        "operator text NOT NULL, reason text NOT NULL)"
    )
    # Who may use the console: a viewer reads, an operator acts. Only an argon2 hash of the password.
    op.execute(
        "CREATE TABLE jobs.users (name text PRIMARY KEY, role text NOT NULL CHECK (role IN ('viewer', 'operator')), "
        "password_hash text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), "
        "updated_at timestamptz NOT NULL DEFAULT now())"
    )
    # A run's events, read by the API and the console for one run; a schedule's operator actions.
    op.execute("CREATE INDEX events_run ON jobs.events (run_id) WHERE run_id IS NOT NULL")
    op.execute("CREATE INDEX events_schedule_actions ON jobs.events (schedule, id) WHERE operator IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX jobs.events_schedule_actions")
    op.execute("DROP INDEX jobs.events_run")
    op.execute("DROP TABLE jobs.schedule_pauses")
    op.execute("DROP TABLE jobs.users")
    op.execute("ALTER TABLE jobs.events DROP COLUMN operator, DROP COLUMN reason")
