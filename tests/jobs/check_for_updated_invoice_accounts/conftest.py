"""check-for-updated-invoice-accounts against the fake GOV.UK Notify (tests/support/notify.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

TEMPLATE = "b5d29621-e30d-4dc8-a6eb-11ab075d7a0c"
MAILBOX = "nald-service-mailbox@example.gov.uk"


@pytest.fixture
def notify_templates():
    # The legacy template's only field is the list of accounts.
    return {TEMPLATE: "((content))"}


@pytest.fixture
def job_env(notify):
    return {
        **notify.worker_env(),
        "WRLS_NALD_SERVICE_MAILBOX": MAILBOX,
        "WRLS_ENVIRONMENT": "test",
    }


class Crm:
    """crm_v2 rows as the NALD import leaves them, with their hashes."""

    def __init__(self, service) -> None:
        self.engine = service.engine

    def _insert(self, sql: str, **params) -> str:
        with self.engine.begin() as connection:
            return connection.execute(text(sql), params).scalar_one()

    def company(self, external_id: str, last_hash: str | None = "h1", current_hash: str | None = "h1") -> str:
        return self._insert(
            "INSERT INTO crm_v2.companies (name, external_id, last_hash, current_hash) "
            "VALUES ('A company', :e, :l, :c) RETURNING company_id",
            e=external_id,
            l=last_hash,
            c=current_hash,
        )

    def contact(self, last_hash: str = "h1", current_hash: str = "h1") -> str:
        return self._insert(
            "INSERT INTO crm_v2.contacts (last_name, last_hash, current_hash) "
            "VALUES ('Smith', :l, :c) RETURNING contact_id",
            l=last_hash,
            c=current_hash,
        )

    def address(self, last_hash: str = "h1", current_hash: str = "h1") -> str:
        return self._insert(
            "INSERT INTO crm_v2.addresses (address_1, last_hash, current_hash) "
            "VALUES ('1 The Street', :l, :c) RETURNING address_id",
            l=last_hash,
            c=current_hash,
        )

    def account(
        self,
        number: str,
        company_id: str,
        address_id: str | None = None,
        agent_id: str | None = None,
        contact_id: str | None = None,
    ) -> str:
        account = self._insert(
            "INSERT INTO crm_v2.invoice_accounts (company_id, invoice_account_number) "
            "VALUES (:c, :n) RETURNING invoice_account_id",
            c=company_id,
            n=number,
        )
        if address_id is not None:
            self._insert(
                "INSERT INTO crm_v2.invoice_account_addresses (invoice_account_id, address_id, start_date, "
                "agent_company_id, contact_id) VALUES (:i, :a, '2020-04-01', :g, :c) "
                "RETURNING invoice_account_address_id",
                i=account,
                a=address_id,
                g=agent_id,
                c=contact_id,
            )
        return account

    def rehash(self, table: str, key: str, row_id: str, current_hash: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                text(f"UPDATE crm_v2.{table} SET current_hash = :h WHERE {key} = :i"), {"h": current_hash, "i": row_id}
            )
