"""The WRLS jobs: one folder per job, one module per step.

None is built yet (they come with the issues that follow the runtime); a
scheduled tick of a job that is not here is recorded as ``no-steps``.
"""

from ..runtime import Job

JOBS: tuple[Job, ...] = ()
