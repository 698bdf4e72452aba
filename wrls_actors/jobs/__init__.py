"""The WRLS jobs: one folder per job, one module per step.

A scheduled tick of a job that is not here yet is recorded as ``no-steps``.
"""

from ..runtime import Job
from . import nald_import

JOBS: tuple[Job, ...] = (*nald_import.JOBS,)
