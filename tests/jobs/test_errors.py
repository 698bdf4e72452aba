"""The jobs' errors are one tree, and which of them fail a step at once is what it was."""

from __future__ import annotations

import importlib
import pkgutil

import wrls_actors.jobs
from wrls_actors.jobs.errors import JobDataError, JobError, PermanentJobError, ServiceUnavailable
from wrls_actors.runtime import PermanentError


def job_errors() -> dict[str, type[BaseException]]:
    """Every exception class defined under wrls_actors/jobs, by qualified name."""
    found = {}
    for info in pkgutil.walk_packages(wrls_actors.jobs.__path__, "wrls_actors.jobs."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == info.name:
                found[f"{info.name}.{value.__qualname__}"] = value
    return found


def test_every_error_a_job_defines_is_a_job_error():
    errors = job_errors()
    assert len(errors) >= 12
    assert [name for name, cls in errors.items() if not issubclass(cls, JobError)] == []


def test_only_the_permanent_ones_fail_a_step_at_once_and_data_errors_are_still_value_errors():
    errors = job_errors()
    permanent = sorted(name.rsplit(".", 1)[1] for name, cls in errors.items() if issubclass(cls, PermanentError))
    assert permanent == ["BadExtract", "PermanentJobError"]
    data = sorted(name.rsplit(".", 1)[1] for name, cls in errors.items() if issubclass(cls, ValueError))
    assert data == ["BadData", "JobDataError", "MissingReferenceData", "NaldDataError", "ReplayError"]
    assert issubclass(JobDataError, ValueError) and not issubclass(ServiceUnavailable, PermanentError)
    assert issubclass(PermanentJobError, PermanentError)
    unavailable = sorted(n.rsplit(".", 1)[1] for n, cls in errors.items() if issubclass(cls, ServiceUnavailable))
    assert unavailable == ["ChargingModuleUnavailable", "NotifyUnavailable", "RateLimited", "ServiceUnavailable"]
