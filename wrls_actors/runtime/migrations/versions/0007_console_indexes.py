"""Runs newest first with no filter or by status alone, as the console's Runs page lists them.

runs_job_started serves a list filtered by job; without one, a page of runs
was a sort of every run (3 million in a year: 0.6 s, 1.8 s through the API),
and a status filter alone a scan of them all. Each index takes a few seconds
to build on a year's runs (bench/console.py), while starts of runs wait.

Revision ID: 0007
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX runs_started ON jobs.runs (started_at DESC, run_id DESC)")
    op.execute("CREATE INDEX runs_status_started ON jobs.runs (status, started_at DESC, run_id DESC)")


def downgrade() -> None:
    op.execute("DROP INDEX jobs.runs_status_started")
    op.execute("DROP INDEX jobs.runs_started")
