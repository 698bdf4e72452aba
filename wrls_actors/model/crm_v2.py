"""Schema `crm_v2`: companies, contacts, addresses, invoice accounts, documents."""

from sqlalchemy import Boolean, Column, Date, DateTime, String, Table, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB

from .base import legacy_timestamps, metadata, ref, uuid_pk

S = "crm_v2"


roles = Table(
    "roles",
    metadata,
    uuid_pk("role_id"),
    Column("name", String, nullable=False, unique=True),  # licenceHolder, returnsTo, billing, additionalContact
    *legacy_timestamps(),
    schema=S,
)

companies = Table(
    "companies",
    metadata,
    uuid_pk("company_id"),
    Column("name", String, nullable=False),
    Column("type", String),  # person, organisation
    Column("company_number", String, unique=True),
    Column("external_id", String, unique=True),
    Column("organisation_type", String),
    ref("region_id"),
    Column("last_hash", String),
    Column("current_hash", String),
    *legacy_timestamps(),
    schema=S,
)

addresses = Table(
    "addresses",
    metadata,
    uuid_pk("address_id"),
    *[Column(f"address_{n}", String) for n in range(1, 5)],
    Column("town", String),
    Column("county", String),
    Column("postcode", String),
    Column("country", String),
    Column("uprn", String, unique=True),
    Column("external_id", String, unique=True),
    Column("data_source", String, nullable=False, server_default=text("'nald'")),
    Column("last_hash", String),
    Column("current_hash", String),
    *legacy_timestamps(),
    schema=S,
)

contacts = Table(
    "contacts",
    metadata,
    uuid_pk("contact_id"),
    Column("salutation", String),
    Column("first_name", String),
    Column("initials", String),  # NALD_PARTIES.INITIALS, written by licence-import
    Column("middle_initials", String),
    Column("last_name", String),
    Column("suffix", String),
    Column("department", String),
    Column("contact_type", String),
    Column("email", String),
    Column("external_id", String, unique=True),
    Column("data_source", String, nullable=False, server_default=text("'nald'")),
    Column("last_hash", String),
    Column("current_hash", String),
    *legacy_timestamps(),
    schema=S,
)

invoice_accounts = Table(
    "invoice_accounts",
    metadata,
    uuid_pk("invoice_account_id"),
    ref("company_id", nullable=False),
    Column("invoice_account_number", String, nullable=False, unique=True),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("last_transaction_file_reference", String),
    Column("date_last_transaction_file_reference_updated", DateTime),
    *legacy_timestamps(),
    schema=S,
)

invoice_account_addresses = Table(
    "invoice_account_addresses",
    metadata,
    uuid_pk("invoice_account_address_id"),
    ref("invoice_account_id", nullable=False),
    ref("address_id", nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    ref("agent_company_id"),
    ref("contact_id"),
    UniqueConstraint("invoice_account_id", "start_date"),
    *legacy_timestamps(),
    schema=S,
)

documents = Table(
    "documents",
    metadata,
    uuid_pk("document_id"),
    Column("regime", String, nullable=False, server_default=text("'water'")),
    Column("document_type", String, nullable=False, server_default=text("'abstraction_licence'")),
    Column("document_ref", String, nullable=False, unique=True),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("external_id", String),
    Column("date_deleted", DateTime),
    *legacy_timestamps(),
    schema=S,
)

document_roles = Table(
    "document_roles",
    metadata,
    uuid_pk("document_role_id"),
    ref("document_id", nullable=False),
    ref("role_id", nullable=False),
    ref("company_id"),
    ref("contact_id"),
    ref("address_id"),
    ref("invoice_account_id"),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    UniqueConstraint("document_id", "role_id", "start_date"),
    *legacy_timestamps(),
    schema=S,
)

company_contacts = Table(
    "company_contacts",
    metadata,
    uuid_pk("company_contact_id"),
    ref("company_id", nullable=False),
    ref("contact_id", nullable=False),
    ref("role_id", nullable=False),
    Column("is_default", Boolean, nullable=False, server_default=text("false")),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("water_abstraction_alerts_enabled", Boolean, server_default=text("false")),
    Column("abstraction_alert_licences", JSONB),
    Column("deleted_at", DateTime),
    UniqueConstraint("company_id", "contact_id", "role_id", "start_date"),
    *legacy_timestamps(),
    schema=S,
)

company_addresses = Table(
    "company_addresses",
    metadata,
    uuid_pk("company_address_id"),
    ref("company_id", nullable=False),
    ref("address_id", nullable=False),
    ref("role_id", nullable=False),
    Column("is_default", Boolean, nullable=False, server_default=text("false")),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    UniqueConstraint("company_id", "address_id", "role_id"),
    *legacy_timestamps(),
    schema=S,
)
