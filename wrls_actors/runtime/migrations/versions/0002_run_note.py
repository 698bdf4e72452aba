"""A run's note: why a step ended it early (e.g. "no change"), shown beside its status.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE jobs.runs ADD COLUMN note text")


def downgrade() -> None:
    op.execute("ALTER TABLE jobs.runs DROP COLUMN note")
