"""The jobs' errors, one tree: every error a job defines derives from :class:`JobError`.

Whether a step retries is unchanged by this tree: only a
:class:`PermanentJobError` (a runtime ``PermanentError``) fails its step at
once; the others are retried when they escape a step, as any exception is.
The data errors stay ``ValueError`` too, because the jobs' row-by-row
handlers catch bad values under that name.
"""

from __future__ import annotations

from ..runtime import PermanentError


class JobError(Exception):
    """Base class of every error a job defines."""


class JobDataError(JobError, ValueError):
    """The data in hand cannot be used as it is (a row, a licence): the job reports it, or the step fails."""


class ServiceUnavailable(JobError):
    """An outside service did not answer usefully this time: worth retrying."""


class PermanentJobError(JobError, PermanentError):
    """Retrying cannot help: the step fails at once with this message."""
