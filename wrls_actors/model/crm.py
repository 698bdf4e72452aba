"""Schema `crm` (CRM v1): document headers and entities."""

from sqlalchemy import Column, DateTime, String, Table, text
from sqlalchemy.dialects.postgresql import JSONB

from .base import legacy_timestamps, metadata

S = "crm"

# The regime entity every NALD licence document belongs to (legacy constant).
WATER_REGIME_ENTITY_ID = "0434dc31-a34e-7158-5775-4694af7a60cf"

document_header = Table(
    "document_header",
    metadata,
    Column("document_id", String, primary_key=True, server_default=text("gen_random_uuid()::text")),
    Column("regime_entity_id", String, nullable=False),
    Column("system_id", String, nullable=False, server_default=text("'permit-repo'")),
    Column("system_internal_id", String, nullable=False),
    Column("system_external_id", String, nullable=False, unique=True),
    Column("company_entity_id", String),
    Column("verification_id", String),
    Column("metadata", JSONB),
    Column("document_name", String),
    Column("date_deleted", DateTime),
    *legacy_timestamps(),
    schema=S,
)

entity = Table(
    "entity",
    metadata,
    Column("entity_id", String, primary_key=True),
    Column("entity_nm", String, primary_key=True),
    Column("entity_type", String, primary_key=True),
    Column("source", String),
    *legacy_timestamps(),
    schema=S,
)

entity_roles = Table(
    "entity_roles",
    metadata,
    Column("entity_role_id", String, primary_key=True, server_default=text("gen_random_uuid()::text")),
    Column("entity_id", String, nullable=False),
    Column("role", String, nullable=False),  # primary_user, user_returns, user
    Column("regime_entity_id", String),
    Column("company_entity_id", String),
    Column("created_at", DateTime, server_default=text("now()")),
    schema=S,
)
