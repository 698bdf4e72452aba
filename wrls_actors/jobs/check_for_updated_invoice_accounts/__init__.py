"""check-for-updated-invoice-accounts: one email to the NALD service mailbox
listing the invoice accounts whose company, agent company, contact or address
changed in NALD (the legacy's ``billing.find-update-invoice-accounts``).

One step, ``report-changes``. The NALD import keeps ``last_hash`` and
``current_hash`` on crm_v2 companies, contacts and addresses and never resets
them; the legacy job (which never ran) would have mailed the same list twice a
day forever. Here an account is reported once for the same hashes
(``water_import.invoice_account_changes_reported``), and again only when one
of them changes.
"""

from datetime import timedelta

from ...runtime import Job, Step
from .report import report_changes

# As the tracker's email: 10 to 20 minutes of trying for a Notify incident to pass.
CHECK_FOR_UPDATED_INVOICE_ACCOUNTS = Job(
    "check-for-updated-invoice-accounts",
    queue="default",
    steps=(
        Step(
            "report-changes",
            report_changes,
            time_limit=timedelta(minutes=2),
            max_retries=8,
            min_backoff=timedelta(seconds=5),
            max_backoff=timedelta(minutes=5),
        ),
    ),
)

JOBS = (CHECK_FOR_UPDATED_INVOICE_ACCOUNTS,)
