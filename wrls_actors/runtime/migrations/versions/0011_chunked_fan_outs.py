"""Chunked fan-outs: a barrier counts items, and an arrival says how many items it carried and which failed.

A fan-out step may send its items in chunks (``Step(chunk=N)`` on its child):
one message, one arrival, up to N items. The barrier's ``expected``,
``arrived`` and ``failed`` then count items, and ``chunk`` keeps the size the
fan-out was sent with, so a reader finds the message of any item (and a
redelivered fan-out sends the same chunks even if the job's code changed).

An arrival's ``items`` is how many items its message carried (1 for a
child of one item), ``failed_items`` how many of them failed, and
``failures`` names them: ``[{"position", "item", "error"}]``. A failed
child's arrival of before has ``failed_items`` 1 (its one item).

Adding columns with constant defaults rewrites nothing; the update touches
only failed arrivals, a few rows a week.

Revision ID: 0011
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE jobs.barriers ADD COLUMN chunk integer NOT NULL DEFAULT 1")
    op.execute(
        "ALTER TABLE jobs.barrier_arrivals ADD COLUMN items integer NOT NULL DEFAULT 1, "
        "ADD COLUMN failed_items integer NOT NULL DEFAULT 0, ADD COLUMN failures jsonb"
    )
    op.execute("UPDATE jobs.barrier_arrivals SET failed_items = 1 WHERE failed")
    op.execute(
        "CREATE INDEX barrier_arrivals_failures ON jobs.barrier_arrivals (run_id, step_index) WHERE failed_items > 0"
    )


def downgrade() -> None:
    op.execute("DROP INDEX jobs.barrier_arrivals_failures")
    op.execute("ALTER TABLE jobs.barrier_arrivals DROP COLUMN failures, DROP COLUMN failed_items, DROP COLUMN items")
    op.execute("ALTER TABLE jobs.barriers DROP COLUMN chunk")
