"""Step wait-for-nald: start only on a complete ``import``, after that night's NALD swap.

The legacy started at 01:00 together with the NALD download and read
whatever ``import`` held. The wait itself is shared with the other NALD
readers: ``jobs/shared/nald_wait.py``.
"""

from ..shared.nald_wait import wait_for_nald_step

#: The NALD tables this job reads.
TABLES_READ = (
    "NALD_FIN_AGRMNT_TYPES",
    "NALD_PURP_PRIMS",
    "NALD_PURP_SECS",
    "NALD_PURP_USES",
    "NALD_PURPOSES",
    "NALD_ABS_LICENCES",
    "NALD_RET_VERSIONS",
    "NALD_RET_FORMATS",
    "NALD_RET_FMT_PURPOSES",
)

WAIT_FOR_NALD = wait_for_nald_step(TABLES_READ)
