"""licence-not-in-charge-version-workflow: water rows as the imports and the billing leave them."""

from __future__ import annotations

import pytest
from sqlalchemy import text


@pytest.fixture
def job_env():
    return {}  # no object store, no external service


class Water:
    def __init__(self, service) -> None:
        self.engine = service.engine
        self.region = self._insert("SELECT region_id FROM water.regions WHERE nald_region_id = 1")  # seeded

    def _insert(self, sql: str, **params) -> str:
        with self.engine.begin() as connection:
            return connection.execute(text(sql), params).scalar_one()

    def licence(self, ref: str) -> str:
        return self._insert(
            "INSERT INTO water.licences (region_id, licence_ref, start_date) "
            "VALUES (:r, :ref, '2000-01-01') RETURNING licence_id",
            r=self.region,
            ref=ref,
        )

    def version(self, licence_id: str, external_id: str, created: str = "now()", status: str = "current") -> str:
        """A licence version; ``created`` is an SQL expression for its date_created."""
        return self._insert(
            "INSERT INTO water.licence_versions (licence_id, issue, increment, status, start_date, external_id, "
            f"date_created) VALUES (:l, 1, 0, :s, '2000-01-01', :e, {created}) RETURNING licence_version_id",
            l=licence_id,
            s=status,
            e=external_id,
        )

    def charge_version(self, licence_id: str, ref: str) -> str:
        return self._insert(
            "INSERT INTO water.charge_versions (licence_id, licence_ref, scheme, version_number, start_date, "
            "status, region_code, source) VALUES (:l, :ref, 'alcs', 1, '2000-01-01', 'current', 1, 'nald') "
            "RETURNING charge_version_id",
            l=licence_id,
            ref=ref,
        )

    def in_bill_run(self, charge_version_id: str, status: str) -> None:
        batch = self._insert(
            "INSERT INTO water.billing_batches (region_id, batch_type, from_financial_year_ending, "
            "to_financial_year_ending, status) VALUES (:r, 'supplementary', 2023, 2024, :s) "
            "RETURNING billing_batch_id",
            r=self.region,
            s=status,
        )
        self._insert(
            "INSERT INTO water.billing_batch_charge_version_years (billing_batch_id, charge_version_id, "
            "financial_year_ending, status, transaction_type, is_summer) "
            "VALUES (:b, :c, 2024, 'processing', 'annual', false) RETURNING billing_batch_charge_version_year_id",
            b=batch,
            c=charge_version_id,
        )

    def workflow(self, licence_id: str, version_id: str, deleted: bool = False) -> str:
        return self._insert(
            "INSERT INTO water.charge_version_workflows (licence_id, licence_version_id, status, date_deleted) "
            "VALUES (:l, :v, 'review', CASE WHEN :d THEN now() END) RETURNING charge_version_workflow_id",
            l=licence_id,
            v=version_id,
            d=deleted,
        )
