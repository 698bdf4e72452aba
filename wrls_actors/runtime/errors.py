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

    ``fields`` names each bad parameter with its problem, for callers that
    answer field by field (the HTTP API's 422).
    """

    def __init__(self, message: str, fields: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


class PermanentError(JobRuntimeError):
    """Raised by a step whose input is bad, so that retrying cannot help.

    The step fails at once (no retries) with this message in the ledger.
    """


class ScheduleError(ConfigurationError):
    """Raised when a schedule's cron expression or interval is invalid."""


class JobRefused(JobRuntimeError):
    """Raised when a manual start or an operator's action is refused: one of the kinds below."""


class UnknownJob(JobRefused):
    """Raised when a start names a job the service does not have."""


class AlreadyRunning(JobRefused):
    """Raised when a start is refused because the job is running and its overlap policy is ``skip``."""

    def __init__(self, job: str, run_id: str) -> None:
        super().__init__(f"{job} is already running (run {run_id}); use force to start another")
        self.job = job
        self.run_id = run_id


class NoSuchRun(JobRefused):
    """Raised when an action names a run the ledger does not have."""


class NotRunning(JobRefused):
    """Raised when an action needs a running run and the run has ended."""

    def __init__(self, run_id: str, status: str) -> None:
        super().__init__(f"run {run_id} is not running: it is {status}")
        self.run_id = run_id
        self.status = status


class KeyReused(JobRefused):
    """Raised when a start's key (a message id, an Idempotency-Key) already started a run of another job."""

    def __init__(self, key: str, job: str, run_id: str) -> None:
        super().__init__(f"key {key!r} already started a run of {job} (run {run_id})")
        self.run_id = run_id


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
