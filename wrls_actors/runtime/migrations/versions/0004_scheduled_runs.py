"""Scheduled runs by (job, nominal time): a tick's claim checks that its run does not exist already.

Revision ID: 0004
"""

from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX runs_scheduled ON jobs.runs (job, nominal_time) WHERE trigger = 'schedule'")


def downgrade() -> None:
    op.execute("DROP INDEX jobs.runs_scheduled")
