"""Step wait-for-nald of licence-import: never read ``import`` while a NALD import replaces it.

The legacy licence import ran at 04:00 on whatever ``import`` held, and just
assumed the 01:00 NALD import had finished (legacy/import.md §2, pain point 5).
"""

from __future__ import annotations

from ...config import config
from ...model.nald import NALD_TABLES
from ...runtime import ConfigurationError, PermanentError, StepContext
from ..nald_import.wait import wait_for_nald_swap


def wait_for_nald(ctx: StepContext) -> None:
    try:
        timeout_s = config().nald_wait_s
    except ConfigurationError as e:
        raise PermanentError(str(e)) from None
    wait_for_nald_swap(ctx, timeout_s, tables=tuple(t.name for t in NALD_TABLES))
