"""licence-updates: water rows from tests/support/water_rows.py; the job needs no object store or other service."""

from __future__ import annotations

import pytest


@pytest.fixture
def job_env():
    return {}
