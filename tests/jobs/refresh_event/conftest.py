"""The job sends through the fake GOV.UK Notify (the `notify` fixture of tests/jobs/conftest.py)."""

import pytest

from tests.jobs.conftest import notify_env


@pytest.fixture
def job_env(notify):
    return notify_env(notify)
