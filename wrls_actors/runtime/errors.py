"""The runtime's errors, one tree."""

from __future__ import annotations

from datetime import timedelta

import dramatiq


class JobRuntimeError(Exception):
    """Base class of every error raised by the runtime."""


class ConfigurationError(JobRuntimeError):
    """Raised when settings, schedules or actor options are unsafe or invalid."""


class BadMessage(JobRuntimeError):
    """Raised when a message cannot be processed as sent (unknown job, bad arguments or job parameters).

    Never retried: the message goes to the dead-letter queue with the reason.
    A start by other means (the CLI) with parameters its job does not take
    raises it too, before anything is recorded.
    """


class PermanentError(JobRuntimeError):
    """Raised by a step whose input is bad, so that retrying cannot help.

    The step fails at once (no retries) with this message in the ledger.
    """


class ScheduleError(ConfigurationError):
    """Raised when a schedule's cron expression or interval is invalid."""


class JobRefused(JobRuntimeError):
    """Raised when a manual start is refused (the job is already running)."""


class RetryLater(JobRuntimeError, dramatiq.Retry):
    """Raised by a step that must wait longer than one attempt may last.

    The attempt ends and the step runs again after ``delay``. It is not a
    failure: nothing is logged as an error and the run stays running. It is a
    retry all the same: the ledger shows the attempt as retried and it counts
    against the step's ``max_retries``, so a step that waits this way declares
    enough retries for its longest wait (see ``waiting.retries_for``).
    """

    def __init__(self, message: str, delay: timedelta) -> None:
        super().__init__(message, delay=max(0, int(delay.total_seconds() * 1000)))
