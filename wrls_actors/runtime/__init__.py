"""The job runtime: Dramatiq on RabbitMQ, a PostgreSQL run ledger, periodiq
schedules, stall detection and Prometheus metrics. It knows nothing of the
application whose jobs it runs."""

from .definitions import ALLOW, CONTINUE, FAIL, LATEST, NONE, SKIP, Job, Schedule, Step, StepContext
from .errors import BadMessage, ConfigurationError, JobRefused, PermanentError, ScheduleError
from .params import Param
from .service import Service
from .settings import Settings

__all__ = [
    "ALLOW", "CONTINUE", "FAIL", "LATEST", "NONE", "SKIP",
    "Job", "Param", "Schedule", "Step", "StepContext",
    "BadMessage", "ConfigurationError", "JobRefused", "PermanentError", "ScheduleError",
    "Service", "Settings",
]
