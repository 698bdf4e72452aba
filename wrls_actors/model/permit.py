"""Schema `permit`: the licence as NALD JSON."""

from sqlalchemy import Column, Date, DateTime, Integer, String, Table, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB

from .base import metadata

S = "permit"

NALD_REGIME_ID = 1
NALD_LICENCE_TYPE_ID = 8

licence = Table(
    "licence",
    metadata,
    Column("licence_id", Integer, primary_key=True, autoincrement=True),
    Column("licence_regime_id", Integer, nullable=False),
    Column("licence_type_id", Integer, nullable=False),
    Column("licence_ref", String, nullable=False),
    Column("licence_status_id", String),
    Column("licence_search_key", String),
    Column("licence_start_dt", Date),
    Column("licence_end_dt", Date),
    Column("licence_data_value", JSONB),
    Column("licence_summary", JSONB),
    Column("metadata", JSONB),
    Column("date_licence_version_purpose_conditions_last_copied", DateTime),
    Column("date_gauging_station_links_last_copied", DateTime),
    Column("date_created", DateTime, server_default=text("now()")),
    Column("date_updated", DateTime, server_default=text("now()")),
    UniqueConstraint("licence_regime_id", "licence_type_id", "licence_ref"),
    schema=S,
)
