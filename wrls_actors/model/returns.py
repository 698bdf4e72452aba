"""Schema `returns`: return cycles, return logs and their submissions."""

from sqlalchemy import Boolean, Column, Date, DateTime, Index, Integer, String, Table, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from .base import metadata, timestamps, uuid_pk

S = "returns"

return_cycles = Table(
    "return_cycles",
    metadata,
    uuid_pk("return_cycle_id"),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("is_summer", Boolean, nullable=False, server_default=text("false")),
    Column("is_submitted_in_wrls", Boolean, nullable=False, server_default=text("true")),
    UniqueConstraint("start_date", "end_date", "is_summer"),
    *timestamps(),
    schema=S,
)

returns = Table(
    "returns",
    metadata,
    Column("return_id", String, primary_key=True),  # v1:<region>:<licence>:<format>:<start>:<end>
    Column("id", UUID(as_uuid=False), nullable=False, unique=True, server_default=text("gen_random_uuid()")),
    Column("regime", String, nullable=False, server_default=text("'water'")),
    Column("licence_type", String, nullable=False, server_default=text("'abstraction'")),
    Column("licence_ref", String, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("returns_frequency", String, nullable=False),
    Column("status", String, nullable=False),  # due, received, completed, void
    Column("source", String, nullable=False, server_default=text("'NALD'")),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("received_date", Date),
    Column("due_date", Date),
    Column("sent_date", Date),
    Column("return_requirement", String),
    Column("return_requirement_id", UUID(as_uuid=False)),
    Column("return_cycle_id", UUID(as_uuid=False)),
    Column("quarterly", Boolean, nullable=False, server_default=text("false")),
    Column("under_query", Boolean, nullable=False, server_default=text("false")),
    *timestamps(),
    schema=S,
)
# Every import of a licence reads and voids its returns by licence number.
Index("returns_licence_ref_idx", returns.c.licence_ref)

versions = Table(
    "versions",
    metadata,
    uuid_pk("version_id"),
    Column("return_id", String, nullable=False),
    Column("return_log_id", UUID(as_uuid=False)),
    Column("user_id", String),
    Column("user_type", String),
    Column("version_number", Integer, nullable=False),
    Column("metadata", JSONB),
    Column("nil_return", Boolean, nullable=False, server_default=text("false")),
    Column("current", Boolean),
    Column("created_at", DateTime, server_default=text("now()")),
    schema=S,
)
