"""The WRLS service: the runtime given WRLS's jobs and schedules."""

from functools import lru_cache

from .jobs import JOBS
from .runtime import Service, Settings
from .schedules import SCHEDULES


@lru_cache(maxsize=1)
def service() -> Service:
    return Service(Settings.from_env("WRLS"), JOBS, SCHEDULES)
