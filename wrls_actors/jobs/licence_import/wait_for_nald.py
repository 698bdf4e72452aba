"""Step wait-for-nald of licence-import: never read ``import`` while a NALD import replaces it.

The legacy licence import ran at 04:00 on whatever ``import`` held, and just
assumed the 01:00 NALD import had finished.
"""

from ...model.nald import NALD_TABLES
from ..shared.nald_wait import wait_for_nald_step

# It reads most of NALD: every table must be there.
WAIT_FOR_NALD = wait_for_nald_step(t.name for t in NALD_TABLES)
