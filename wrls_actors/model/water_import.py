"""Schema `water_import`: the import app's own working tables."""

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, String, Table, func

from .base import metadata

S = "water_import"

# The PRESROC charge versions as NALD's history implies them, gaps included (legacy/import.md §4);
# charging-import-versions writes water.charge_versions from it.
charge_versions_metadata = Table(
    "charge_versions_metadata", metadata,
    Column("external_id", String, primary_key=True),
    Column("version_number", Integer, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("status", String, nullable=False),  # current, superseded
    Column("is_nald_gap", Boolean, nullable=False),
    Column("date_created", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("date_updated", DateTime(timezone=True)),
    schema=S,
)
