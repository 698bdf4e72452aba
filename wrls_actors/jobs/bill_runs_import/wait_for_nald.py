"""Step wait-for-nald: start only on a complete ``import``, after a running NALD swap
(the wait is shared: ``jobs/shared/nald_wait.py``)."""

from ..shared.nald_wait import wait_for_nald_step

#: The NALD tables this job reads.
TABLES_READ = (
    "NALD_BILL_RUNS",
    "NALD_BILL_HEADERS",
    "NALD_BILL_TRANS",
    "NALD_TPT_RETURNS",
    "NALD_ABS_LICENCES",
    "NALD_CHG_ELEMENTS",
    "NALD_PURP_USES",
)

WAIT_FOR_NALD = wait_for_nald_step(TABLES_READ)
