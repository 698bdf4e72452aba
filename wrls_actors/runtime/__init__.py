"""The job runtime: Dramatiq on RabbitMQ, a PostgreSQL run ledger, periodiq
schedules, stall detection and Prometheus metrics. It knows nothing of the
application whose jobs it runs."""

from .calendar import Calendar
from .definitions import ALLOW, CONTINUE, FAIL, LATEST, NONE, SKIP, Job, Schedule, Step, StepContext
from .errors import (
    BadMessage,
    ConfigurationError,
    JobRefused,
    JobRuntimeError,
    PermanentError,
    RetryLater,
    ScheduleError,
)
from .ledger_view import ChildInfo, EventCount, LedgerView, RunInfo
from .params import Param
from .retention import JOB as RETENTION_JOB
from .retention import Retained, retain
from .service import Service
from .settings import Settings
from .sql_arrays import array_literal
from .waiting import SLICE_S, Waited, retries_for, wait_in_slices

__all__ = [
    "array_literal",
    "ALLOW",
    "CONTINUE",
    "FAIL",
    "LATEST",
    "NONE",
    "SKIP",
    "Job",
    "Param",
    "RETENTION_JOB",
    "Retained",
    "retain",
    "Schedule",
    "Step",
    "StepContext",
    "BadMessage",
    "ConfigurationError",
    "JobRefused",
    "JobRuntimeError",
    "PermanentError",
    "RetryLater",
    "ScheduleError",
    "Calendar",
    "ChildInfo",
    "EventCount",
    "LedgerView",
    "RunInfo",
    "SLICE_S",
    "Waited",
    "retries_for",
    "wait_in_slices",
    "Service",
    "Settings",
]
