"""The tracker against a fake GOV.UK Notify (tests/support/notify.py) that checks the client's tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy import text

TEMPLATE = "c34d1b16-694b-4364-8e7e-83e9dbd34a62"
RECIPIENT = "water-service-mailbox@example.gov.uk"


@pytest.fixture
def notify_templates():
    # The legacy template's only field is the report's text.
    return {TEMPLATE: "((content))"}


@pytest.fixture
def job_env(notify):
    """Notify is the fake (the tracker needs no object store)."""
    return {
        **notify.worker_env(),
        "WRLS_TRACKER_RECIPIENT": RECIPIENT,
        "WRLS_ENVIRONMENT": "test",
    }


def add_events(service, *events: tuple[datetime, str, str | None]) -> None:
    """Ledger events (time, kind, job), as the runtime records them."""
    with service.engine.begin() as connection:
        for at, kind, job in events:
            connection.execute(
                text("INSERT INTO jobs.events (at, kind, job, detail) VALUES (:at, :kind, :job, 'from the test')"),
                {"at": at, "kind": kind, "job": job},
            )


def add_previous_report(service, started_at: datetime, status: str = "succeeded") -> None:
    """A tracker run of the past, as if it had reported up to ``started_at``."""
    with service.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO jobs.runs (run_id, job, trigger, status, started_at, finished_at) "
                "VALUES (:id, 'tracker', 'schedule', :status, :at, :at)"
            ),
            {"id": str(uuid.uuid4()), "status": status, "at": started_at},
        )
