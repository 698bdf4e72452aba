"""The notification jobs against a fake GOV.UK Notify (tests/support/notify.py), a
real worker, RabbitMQ and PostgreSQL; rows written as the notices' preparation writes them
(tests/support/notices.py)."""

from __future__ import annotations

import pytest

from tests.jobs.conftest import notify_env


@pytest.fixture
def job_env(notify):
    return notify_env(notify)
