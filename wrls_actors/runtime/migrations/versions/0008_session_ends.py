"""When an account's console sessions end: signing out, or a new password, ends every session issued before.

The console's sessions are signed cookies kept by the browser alone; the
ledger holds, per account, the moment before which none is accepted. The
console reads the account's row on every request already (for its role), so
this costs no query.

Revision ID: 0008
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE jobs.users ADD COLUMN sessions_valid_after timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE jobs.users DROP COLUMN sessions_valid_after")
