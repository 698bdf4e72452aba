"""Water rows as the imports, users and the billing leave them, for the jobs that put licences into charge
version workflow (time-limited, licence-updates), and the other writer those jobs must not trip over."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from tests.support import services as svc
from tests.support.helpers import query


def london_today(service) -> date:
    """Today in London by the database's clock, worked out by PostgreSQL (not the code under test)."""
    with service.engine.connect() as connection:
        return connection.execute(text("SELECT (now() AT TIME ZONE 'Europe/London')::date")).scalar_one()


class Water:
    def __init__(self, service) -> None:
        self.engine = service.engine
        self.region = self._one("SELECT region_id FROM water.regions WHERE nald_region_id = 1")  # seeded

    def _one(self, sql: str, **params) -> str:
        """Run an insert and give the new row's uuid as text, as the jobs' JSON holds it."""
        with self.engine.begin() as connection:
            return str(connection.execute(text(sql), params).scalar_one())

    def licence(
        self, ref: str, expired: date | None = None, lapsed: date | None = None, revoked: date | None = None
    ) -> str:
        return self._one(
            "INSERT INTO water.licences (region_id, licence_ref, start_date, expired_date, lapsed_date, revoked_date) "
            "VALUES (:r, :ref, '2000-01-01', :e, :l, :v) RETURNING licence_id",
            r=self.region,
            ref=ref,
            e=expired,
            l=lapsed,
            v=revoked,
        )

    def version(
        self,
        licence_id: str,
        external_id: str,
        created: str = "now()",
        status: str = "current",
        issue: int = 1,
        increment: int = 0,
    ) -> str:
        """A licence version; ``created`` is an SQL expression for its date_created."""
        return self._one(
            "INSERT INTO water.licence_versions (licence_id, issue, increment, status, start_date, external_id, "
            f"date_created) VALUES (:l, :i, :n, :s, '2000-01-01', :e, {created}) RETURNING licence_version_id",
            l=licence_id,
            i=issue,
            n=increment,
            s=status,
            e=external_id,
        )

    def charge_version(
        self,
        licence_id: str,
        ref: str,
        scheme: str = "sroc",
        status: str = "current",
        start: date = date(2023, 4, 1),
        end: date | None = None,
        number: int = 1,
    ) -> str:
        return self._one(
            "INSERT INTO water.charge_versions (licence_id, licence_ref, scheme, version_number, start_date, "
            "end_date, status, region_code, source) VALUES (:l, :ref, :sc, :n, :st, :en, :s, 1, 'wrls') "
            "RETURNING charge_version_id",
            l=licence_id,
            ref=ref,
            sc=scheme,
            n=number,
            st=start,
            en=end,
            s=status,
        )

    def purposes(self, charge_version_id: str, *time_limited_ends: date | None) -> None:
        """A charge reference (water.charge_elements) with one charge element (water.charge_purposes) per end."""
        element = self._one(
            "INSERT INTO water.charge_elements (charge_version_id, volume, scheme) VALUES (:c, 10, 'sroc') "
            "RETURNING charge_element_id",
            c=charge_version_id,
        )
        for end in time_limited_ends:
            self._one(
                "INSERT INTO water.charge_purposes (charge_element_id, authorised_annual_quantity, "
                "time_limited_start_date, time_limited_end_date) VALUES (:e, 10, '2020-04-01', :t) "
                "RETURNING charge_purpose_id",
                e=element,
                t=end,
            )

    def in_bill_run(self, charge_version_id: str, status: str) -> None:
        batch = self._one(
            "INSERT INTO water.billing_batches (region_id, batch_type, from_financial_year_ending, "
            "to_financial_year_ending, status, scheme) VALUES (:r, 'supplementary', 2022, 2022, :s, 'alcs') "
            "RETURNING billing_batch_id",
            r=self.region,
            s=status,
        )
        self._one(
            "INSERT INTO water.billing_batch_charge_version_years (billing_batch_id, charge_version_id, "
            "financial_year_ending, status, transaction_type, is_summer) "
            "VALUES (:b, :c, 2022, 'processing', 'annual', false) RETURNING billing_batch_charge_version_year_id",
            b=batch,
            c=charge_version_id,
        )

    def workflow(self, licence_id: str, version_id: str, deleted: bool = False, status: str = "review") -> str:
        return self._one(
            "INSERT INTO water.charge_version_workflows (licence_id, licence_version_id, status, date_deleted) "
            "VALUES (:l, :v, :s, CASE WHEN :d THEN now() END) RETURNING charge_version_workflow_id",
            l=licence_id,
            v=version_id,
            s=status,
            d=deleted,
        )


def trigger_while_another_writer_holds(wrls, job: str, licence: str, version: str) -> str:
    """Start ``job`` while another transaction holds an uncommitted live workflow for ``version``, wait until the
    job's insert is blocked on it, then commit; the run id. The legacy's runs aborted on the unique index here."""
    with wrls.engine.connect() as other:
        with other.begin():
            other.execute(
                text(
                    "INSERT INTO water.charge_version_workflows (licence_id, licence_version_id, status, "
                    "data) VALUES (:l, :v, 'to_setup', '{\"chargeVersion\": null}')"
                ),
                {"l": licence, "v": version},
            )
            run_id = wrls.trigger(job)
            svc.wait_for(
                lambda: query(
                    wrls,
                    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' "
                    "AND query LIKE '%INSERT INTO water.charge_version_workflows%'",
                ),
                20,
                what="the run to wait for the other writer",
            )
    return run_id
