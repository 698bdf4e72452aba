"""export: the schemas water, returns, crm, crm_v2, idm and permit, each base table as CSV, one
``export/<schema>.tgz`` per schema in ``WRLS_EXPORT_BUCKET``. On demand only
(``wrls-actors trigger export``; the legacy never scheduled it).

Steps: ``queue-schemas`` → ``export-schema`` (one child per schema; a failed
one is reported and the others still export) → ``report`` (the run's note
names the schemas exported and those that failed).
"""

from datetime import timedelta

from ...runtime import CONTINUE, Job, Step
from .export_schema import export_schema
from .queue_schemas import queue_schemas
from .report import report

# Below RabbitMQ's 30-minute consumer timeout; a production-size schema takes a minute or two.
EXPORT_SCHEMA = Step("export-schema", export_schema, time_limit=timedelta(minutes=25), max_retries=2)

EXPORT = Job(
    "export",
    queue="import",
    steps=(
        Step(
            "queue-schemas",
            queue_schemas,
            fan_out=EXPORT_SCHEMA,
            on_child_failure=CONTINUE,
            time_limit=timedelta(minutes=1),
        ),
        Step("report", report, time_limit=timedelta(minutes=1)),
    ),
)

JOBS = (EXPORT,)
