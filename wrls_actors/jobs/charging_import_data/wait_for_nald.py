"""Step wait-for-nald: start only on a complete ``import``, after that night's NALD swap.

The legacy started at 01:00 together with the NALD download and read
whatever ``import`` held (legacy/import.md §3, pain point 5). The wait itself
is shared with licence-import: ``jobs/nald_import/wait.py``.
"""

from __future__ import annotations

from ...config import config
from ...runtime import ConfigurationError, PermanentError, StepContext
from ..nald_import.wait import wait_for_nald_swap

#: The NALD tables this job reads.
TABLES_READ = ("NALD_FIN_AGRMNT_TYPES", "NALD_PURP_PRIMS", "NALD_PURP_SECS", "NALD_PURP_USES", "NALD_PURPOSES",
               "NALD_ABS_LICENCES", "NALD_RET_VERSIONS", "NALD_RET_FORMATS", "NALD_RET_FMT_PURPOSES")


def wait_for_nald(ctx: StepContext) -> None:
    try:
        timeout_s = config().nald_wait_s
    except ConfigurationError as e:
        raise PermanentError(str(e)) from None
    wait_for_nald_swap(ctx, timeout_s, tables=TABLES_READ)
