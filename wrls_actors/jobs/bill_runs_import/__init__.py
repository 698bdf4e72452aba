"""bill-runs-import: NALD's bill runs since 2015 into the WRLS billing tables
(the legacy's ``import.bill-runs``). On demand only.

Steps: ``wait-for-nald`` → ``bill-runs`` → ``bills`` → ``bill-licences`` →
``transactions`` → ``volumes`` → ``charge-version-years``, one transaction
each, in the order the water service's foreign keys need. Every row is
written once and never changed afterwards (NALD's bill history does not
change), so a step or the whole job can run again.

The legacy dropped three foreign keys of ``billing_invoices`` and
``billing_transactions`` for its load and added them back in its last
statement, so any failure in between left them dropped. Nothing here drops or
disables a constraint: each step's rows satisfy them as they are written.

Run it after charging-import-versions: transactions point at the charge
elements it writes, and volumes and charge version years need them.
"""

from datetime import timedelta

from ...runtime import Job, Step
from .bill_licences import bill_licences
from .bill_runs import bill_runs
from .bills import bills
from .charge_version_years import charge_version_years
from .transactions import transactions
from .volumes import volumes
from .wait_for_nald import WAIT_FOR_NALD

BILL_RUNS_IMPORT = Job(
    "bill-runs-import",
    queue="import",
    steps=(
        WAIT_FOR_NALD,
        Step("bill-runs", bill_runs),
        Step("bills", bills, time_limit=timedelta(minutes=15)),
        Step("bill-licences", bill_licences, time_limit=timedelta(minutes=15)),
        Step("transactions", transactions, time_limit=timedelta(minutes=20)),
        Step("volumes", volumes, time_limit=timedelta(minutes=15)),
        Step("charge-version-years", charge_version_years, time_limit=timedelta(minutes=15)),
    ),
)

JOBS = (BILL_RUNS_IMPORT,)
