"""customer-file-refresh against a fake Charging Module (tests/support/charging_module.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.support.charging_module import FakeChargingModule


@pytest.fixture
def cm():
    with FakeChargingModule() as fake:
        yield fake


@pytest.fixture
def job_env(cm):
    """The Charging Module is the fake (no object store needed)."""
    return {
        "WRLS_CHARGING_MODULE_URL": cm.base_url,
        "WRLS_CHARGING_MODULE_TOKEN_URL": cm.token_url,
        "WRLS_CHARGING_MODULE_CLIENT_ID": cm.client_id,
        "WRLS_CHARGING_MODULE_CLIENT_SECRET": cm.client_secret,
        "WRLS_CHARGING_MODULE_TIMEOUT_S": "5",
        # One process, so the token cached by one run is the next run's.
        "WRLS_WORKER_PROCESSES": "1",
    }


def add_accounts(service, *numbers: str, reference: str | None = None) -> None:
    """Invoice accounts of one company, with this last file reference."""
    with service.engine.begin() as connection:
        company = connection.execute(
            text("INSERT INTO crm_v2.companies (name) VALUES ('Big Farm Co Ltd') RETURNING company_id")
        ).scalar_one()
        for number in numbers:
            connection.execute(
                text(
                    "INSERT INTO crm_v2.invoice_accounts (company_id, invoice_account_number, "
                    "last_transaction_file_reference, date_updated) VALUES (:c, :n, :r, '2020-01-01')"
                ),
                {"c": company, "n": number, "r": reference},
            )
