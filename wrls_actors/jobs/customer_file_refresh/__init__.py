"""customer-file-refresh: the Charging Module's customer files of the last 7
days, recorded on each invoice account (the legacy's
``billing.customer-file-refresh``).

One step, ``record-file-references``: fetch the files, keep the newest file of
each account, and set ``last_transaction_file_reference`` and its date in one
transaction. The legacy posted each file to the CRM without awaiting it, so an
account in two files could keep the older reference and a failed post crashed
the process.
"""

from datetime import timedelta

from ...runtime import Job, Step
from .record import record_file_references

# A Charging Module outage fails the run after two quick retries: the next
# hourly run reads the same 7 days again, so nothing is lost by waiting for it.
CUSTOMER_FILE_REFRESH = Job(
    "customer-file-refresh",
    queue="default",
    steps=(
        Step(
            "record-file-references",
            record_file_references,
            time_limit=timedelta(minutes=2),
            max_retries=2,
            min_backoff=timedelta(seconds=1),
            max_backoff=timedelta(seconds=30),
        ),
    ),
)

JOBS = (CUSTOMER_FILE_REFRESH,)
