"""clean: the water system's nightly clean-up (the legacy ``/jobs/clean``, once
``/jobs/session-cleanup``), five tasks that each fail alone.

``list-tasks`` fans out one ``run-task`` child per task (empty bill runs,
void return logs, expired sessions, incomplete company contacts, orphaned
contacts); a failed child fails only its task, and ``report`` notes which.
Every task deletes in batches of ``WRLS_CLEAN_BATCH_ROWS``, each its own
transaction; the three that delete people's details or returns respect
``WRLS_MAX_DELETE_PERCENT`` unless the run is forced.
"""

from datetime import timedelta

from ...runtime import CONTINUE, Job, Param, Step
from .report import WAIT_FOR_ERRORS, report
from .tasks import list_tasks, run_task

# A task's batches are short, but a backlog may need many: the time limit stays below RabbitMQ's consumer
# timeout, and a task cut short keeps what it deleted and goes on from there when retried.
RUN_TASK = Step(
    "run-task",
    run_task,
    time_limit=timedelta(minutes=20),
    max_retries=2,
    min_backoff=timedelta(seconds=5),
    max_backoff=timedelta(minutes=1),
)

CLEAN = Job(
    "clean",
    queue="default",
    steps=(
        Step("list-tasks", list_tasks, fan_out=RUN_TASK, on_child_failure=CONTINUE),
        Step("report", report, time_limit=timedelta(minutes=1), max_retries=WAIT_FOR_ERRORS + 1),
    ),
    params=(
        Param(
            "force",
            bool,
            default=False,
            help="delete more than `WRLS_MAX_DELETE_PERCENT` of the void return logs, company contacts or contacts",
        ),
    ),
)

JOBS = (CLEAN,)
