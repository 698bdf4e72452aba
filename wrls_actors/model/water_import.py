"""Schema `water_import`: the WRLS jobs' own working tables."""

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, String, Table, func
from sqlalchemy.dialects.postgresql import UUID

from .base import metadata

S = "water_import"

# The PRESROC charge versions as NALD's history implies them, gaps included;
# charging-import-versions writes water.charge_versions from it.
charge_versions_metadata = Table(
    "charge_versions_metadata",
    metadata,
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

# What check-for-updated-invoice-accounts last mailed for each account: the NALD
# hashes of the account's changed company, agent, contact and address. The hashes
# are never reset (the NALD import owns them), so without this every run would
# mail the same accounts again.
invoice_account_changes_reported = Table(
    "invoice_account_changes_reported",
    metadata,
    Column("invoice_account_id", UUID(as_uuid=False), primary_key=True),
    Column("hashes", String, nullable=False),
    Column("notification_id", String),
    Column("reported_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    schema=S,
)


# send-message writes a row here, committed, just before it asks Notify to send a
# scheduled notification, and removes it with the outcome. A row still here when
# the notification is taken again means the last try may have reached Notify
# (the worker died, or Notify's answer was lost): it is looked up by reference
# before it is sent again, so nobody gets the same letter twice.
notify_send_attempts = Table(
    "notify_send_attempts",
    metadata,
    Column("scheduled_notification_id", UUID(as_uuid=False), primary_key=True),
    Column("reference", String, nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    schema=S,
)
