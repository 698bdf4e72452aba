"""Schema `public`: the one real table the water system keeps there (its other objects are views)."""

from sqlalchemy import Column, DateTime, Table, func, text
from sqlalchemy.dialects.postgresql import JSONB

from .base import metadata, uuid_pk

S = "public"

# The system's web sessions (a journey's answers before they are saved); nothing reads one after a day.
sessions = Table(
    "sessions",
    metadata,
    uuid_pk("id"),
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    schema=S,
)
