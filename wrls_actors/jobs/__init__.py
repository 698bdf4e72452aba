"""The WRLS jobs: one folder per job, one module per step.

A scheduled tick of a job that is not here yet is recorded as ``no-steps``.
"""

from ..runtime import Job
from . import bill_runs_import, charging_import_data, charging_import_versions, licence_import, nald_import, tracker

JOBS: tuple[Job, ...] = (*nald_import.JOBS, *charging_import_data.JOBS, *licence_import.JOBS,
                         *charging_import_versions.JOBS, *bill_runs_import.JOBS, *tracker.JOBS)
