"""clean against PostgreSQL's tables as `db upgrade` makes them, a real worker and a fake Charging Module."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tests.support.charging_module import FakeChargingModule


@pytest.fixture
def cm():
    with FakeChargingModule() as fake:
        yield fake


@pytest.fixture
def job_env(cm):
    """Batches of 2 rows, so a few rows take several; the guard's share is set per test."""
    return {
        "WRLS_CHARGING_MODULE_URL": cm.base_url,
        "WRLS_CHARGING_MODULE_TOKEN_URL": cm.token_url,
        "WRLS_CHARGING_MODULE_CLIENT_ID": cm.client_id,
        "WRLS_CHARGING_MODULE_CLIENT_SECRET": cm.client_secret,
        "WRLS_CHARGING_MODULE_TIMEOUT_S": "5",
        "WRLS_CLEAN_BATCH_ROWS": "2",
    }


def insert(wrls, sql: str, **params) -> str:
    with wrls.engine.begin() as connection:
        return str(connection.execute(text(sql), params).scalar_one())


def bill_run(wrls, status: str, external_id: str | None = None) -> str:
    region = str(uuid.uuid4())
    return insert(
        wrls,
        "INSERT INTO water.billing_batches (region_id, batch_type, from_financial_year_ending, "
        "to_financial_year_ending, status, external_id) VALUES (:r, 'supplementary', 2024, 2024, "
        ":s, :e) RETURNING billing_batch_id",
        r=region,
        s=status,
        e=external_id,
    )


def bill_run_rows(wrls, batch: str) -> dict[str, str]:
    """One row in every table that hangs off a bill run; returns the supplementary year's id."""
    licence, charge_version, element = (str(uuid.uuid4()) for _ in range(3))
    ids = {
        "licence_supplementary_years": insert(
            wrls,
            "INSERT INTO water.licence_supplementary_years (licence_id, bill_run_id, financial_year_end) "
            "VALUES (:l, :b, 2024) RETURNING id",
            l=licence,
            b=batch,
        )
    }
    review_licence = insert(
        wrls,
        "INSERT INTO water.review_licences (bill_run_id, licence_id) VALUES (:b, :l) RETURNING id",
        b=batch,
        l=licence,
    )
    review_cv = insert(
        wrls, "INSERT INTO water.review_charge_versions (review_licence_id) VALUES (:r) RETURNING id", r=review_licence
    )
    review_cr = insert(
        wrls,
        "INSERT INTO water.review_charge_references (review_charge_version_id) VALUES (:r) RETURNING id",
        r=review_cv,
    )
    review_ce = insert(
        wrls,
        "INSERT INTO water.review_charge_elements (review_charge_reference_id) VALUES (:r) RETURNING id",
        r=review_cr,
    )
    review_return = insert(
        wrls, "INSERT INTO water.review_returns (review_licence_id) VALUES (:r) RETURNING id", r=review_licence
    )
    insert(
        wrls,
        "INSERT INTO water.review_charge_element_returns (review_charge_element_id, review_return_id) "
        "VALUES (:e, :r) RETURNING id",
        e=review_ce,
        r=review_return,
    )
    bill = insert(
        wrls,
        "INSERT INTO water.billing_invoices (billing_batch_id, invoice_account_number, "
        "financial_year_ending) VALUES (:b, 'A12345678A', 2024) RETURNING billing_invoice_id",
        b=batch,
    )
    bill_licence = insert(
        wrls,
        "INSERT INTO water.billing_invoice_licences (billing_invoice_id, licence_ref, "
        "licence_id) VALUES (:i, '01/123', :l) RETURNING billing_invoice_licence_id",
        i=bill,
        l=licence,
    )
    insert(
        wrls,
        "INSERT INTO water.billing_transactions (billing_invoice_licence_id, charge_element_id) "
        "VALUES (:i, :e) RETURNING billing_transaction_id",
        i=bill_licence,
        e=element,
    )
    insert(
        wrls,
        "INSERT INTO water.billing_batch_charge_version_years (billing_batch_id, charge_version_id, "
        "financial_year_ending, status, transaction_type, is_summer) VALUES (:b, :c, 2024, 'ready', "
        "'annual', false) RETURNING billing_batch_charge_version_year_id",
        b=batch,
        c=charge_version,
    )
    insert(
        wrls,
        "INSERT INTO water.billing_volumes (charge_element_id, billing_batch_id, financial_year, is_summer) "
        "VALUES (:e, :b, 2024, false) RETURNING billing_volume_id",
        e=element,
        b=batch,
    )
    return ids


def return_log(wrls, name: str, status: str, received: str | None = None) -> str:
    return insert(
        wrls,
        "INSERT INTO returns.returns (return_id, licence_ref, start_date, end_date, "
        "returns_frequency, status, received_date) VALUES (:n, '01/123', '2023-04-01', '2024-03-31', "
        "'month', :s, :r) RETURNING return_id",
        n=name,
        s=status,
        r=received,
    )


def session(wrls, age: str) -> str:
    return insert(
        wrls, "INSERT INTO public.sessions (created_at) VALUES (now() - CAST(:a AS interval)) RETURNING id", a=age
    )


def contact(wrls, email: str | None) -> str:
    return insert(
        wrls, "INSERT INTO crm_v2.contacts (first_name, email) VALUES ('Jo', :e) RETURNING contact_id", e=email
    )


def company_contact(wrls, contact_id: str, role: str) -> str:
    company = insert(wrls, "INSERT INTO crm_v2.companies (name) VALUES ('Big Farm Co Ltd') RETURNING company_id")
    return insert(
        wrls,
        "INSERT INTO crm_v2.company_contacts (company_id, contact_id, role_id, start_date) "
        "SELECT :c, :k, role_id, '2020-01-01' FROM crm_v2.roles WHERE name = :r "
        "RETURNING company_contact_id",
        c=company,
        k=contact_id,
        r=role,
    )


def ids(wrls, sql: str) -> set[str]:
    with wrls.engine.connect() as connection:
        return {str(r[0]) for r in connection.execute(text(sql))}
