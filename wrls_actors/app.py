"""The WRLS service: the runtime given WRLS's jobs and schedules."""

from . import embedded
from .http_routes import ROUTES
from .jobs import JOBS
from .model import create_missing
from .runtime import Service, Settings
from .schedules import SCHEDULES


def service() -> Service:
    """Built once per process by the CLI (and by each worker process)."""
    return Service(
        Settings.from_env("WRLS"),
        JOBS,
        SCHEDULES,
        create_tables=create_missing,
        prepare_embedded=embedded.prepare,
        http_routes=ROUTES,
    )
