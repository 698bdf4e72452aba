"""The runtime's errors, one tree."""


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
