"""Shared column shapes of the WRLS tables."""

from sqlalchemy import Column, DateTime, MetaData, func, text
from sqlalchemy.dialects.postgresql import UUID

metadata = MetaData()


def uuid_pk(name: str) -> Column:
    return Column(name, UUID(as_uuid=False), primary_key=True, server_default=text("gen_random_uuid()"))


def ref(name: str, nullable: bool = True) -> Column:
    """A reference to another table's uuid key (the legacy schema has no foreign keys)."""
    return Column(name, UUID(as_uuid=False), nullable=nullable)


def legacy_timestamps() -> list[Column]:
    """The legacy `date_created` / `date_updated` pair (timestamp without time zone)."""
    return [
        Column("date_created", DateTime, nullable=False, server_default=func.now()),
        Column("date_updated", DateTime, nullable=False, server_default=func.now()),
    ]


def timestamps() -> list[Column]:
    """The newer `created_at` / `updated_at` pair."""
    return [
        Column("created_at", DateTime, nullable=False, server_default=func.now()),
        Column("updated_at", DateTime, nullable=False, server_default=func.now()),
    ]
