"""licence-updates: the water rows are built as for time-limited."""

from __future__ import annotations

import pytest


@pytest.fixture
def wrls_env(env):
    return dict(env)  # no object store, no external service
