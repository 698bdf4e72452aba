"""Runs newest first with no filter or a status alone; a fan-out's failed children: the console's pages.

runs_job_started serves a list filtered by job; without one, a page of runs
was a sort of every run (3 million in a year: 0.6 s, 1.8 s through the API),
and a status filter alone a scan of them all. A Run page's failed children
were found among all the fan-out's arrivals (71,000 a night), and their count
misled the planner into compiling the query (JIT): 159 ms, now under 1 ms.
On a year's ledger (bench/console.py, a loaded 2-CPU machine) the runs
indexes take about 9 s to build and the arrivals one about 20 s, while starts
of runs and fan-in arrivals wait: upgrade outside the nightly imports.

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
    op.execute(
        "CREATE INDEX barrier_arrivals_failed ON jobs.barrier_arrivals (run_id, step_index, arrived_at) WHERE failed"
    )


def downgrade() -> None:
    op.execute("DROP INDEX jobs.barrier_arrivals_failed")
    op.execute("DROP INDEX jobs.runs_status_started")
    op.execute("DROP INDEX jobs.runs_started")
