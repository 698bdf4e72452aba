"""Step wait-for-nald: start only on a complete ``import``, after a running NALD swap
(the wait is nald-import's, ``jobs/nald_import/wait.py``)."""

from __future__ import annotations

from ...config import config
from ...runtime import ConfigurationError, PermanentError, StepContext
from ..nald_import.wait import wait_for_nald_swap

#: The NALD tables this job reads.
TABLES_READ = ("NALD_ABS_LICENCES", "NALD_CHG_VERSIONS", "NALD_CHG_ELEMENTS", "NALD_CHG_AGRMNTS", "NALD_LH_ACCS")


def wait_for_nald(ctx: StepContext) -> None:
    try:
        timeout_s = config().nald_wait_s
    except ConfigurationError as e:
        raise PermanentError(str(e)) from None
    wait_for_nald_swap(ctx, timeout_s, tables=TABLES_READ)
