"""Schema `water`: licences, their versions and purposes, charging, returns
requirements, notifications and gauging stations."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from .base import legacy_timestamps, metadata, ref, timestamps, uuid_pk

S = "water"


def _abstraction_period() -> list[Column]:
    return [
        Column(f"abstraction_period_{edge}_{part}", SmallInteger)
        for edge in ("start", "end")
        for part in ("day", "month")
    ]


application_state = Table(
    "application_state",
    metadata,
    uuid_pk("application_state_id"),
    Column("key", String, nullable=False, unique=True),
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    *legacy_timestamps(),
    schema=S,
)

regions = Table(
    "regions",
    metadata,
    uuid_pk("region_id"),
    Column("charge_region_id", String),
    Column("nald_region_id", Integer, nullable=False, unique=True),
    Column("name", String, nullable=False),
    Column("display_name", String),
    Column("is_test", Boolean, nullable=False, server_default=text("false")),
    *legacy_timestamps(),
    schema=S,
)

licences = Table(
    "licences",
    metadata,
    uuid_pk("licence_id"),
    ref("region_id", nullable=False),
    Column("licence_ref", String, nullable=False, unique=True),
    Column("application_number", String),
    Column("is_water_undertaker", Boolean, nullable=False, server_default=text("false")),
    Column("regions", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("start_date", Date, nullable=False),
    Column("expired_date", Date),
    Column("issue_date", Date),
    Column("lapsed_date", Date),
    Column("revoked_date", Date),
    Column("suspend_from_billing", Boolean, nullable=False, server_default=text("false")),
    Column("include_in_supplementary_billing", String, nullable=False, server_default=text("'no'")),
    Column("include_in_sroc_supplementary_billing", Boolean, nullable=False, server_default=text("false")),
    Column("include_in_sroc_tpt_supplementary_billing", Boolean, nullable=False, server_default=text("false")),
    Column("is_test", Boolean, nullable=False, server_default=text("false")),
    *legacy_timestamps(),
    schema=S,
)

licence_versions = Table(
    "licence_versions",
    metadata,
    uuid_pk("licence_version_id"),
    ref("licence_id", nullable=False),
    Column("issue", Integer, nullable=False),
    Column("increment", Integer, nullable=False),
    Column("status", String, nullable=False),  # current, superseded, draft
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("issue_date", Date),
    Column("external_id", String, nullable=False, unique=True),
    ref("company_id"),
    ref("address_id"),
    *legacy_timestamps(),
    schema=S,
)

purposes_primary = Table(
    "purposes_primary",
    metadata,
    uuid_pk("purpose_primary_id"),
    Column("legacy_id", String, nullable=False, unique=True),
    Column("description", String, nullable=False),
    *legacy_timestamps(),
    schema=S,
)

purposes_secondary = Table(
    "purposes_secondary",
    metadata,
    uuid_pk("purpose_secondary_id"),
    Column("legacy_id", String, nullable=False, unique=True),
    Column("description", String, nullable=False),
    *legacy_timestamps(),
    schema=S,
)

purposes_uses = Table(
    "purposes_uses",
    metadata,
    uuid_pk("purpose_use_id"),
    Column("legacy_id", String, nullable=False, unique=True),
    Column("description", String, nullable=False),
    Column("loss_factor", String, nullable=False),
    Column("is_two_part_tariff", Boolean, nullable=False, server_default=text("false")),
    *legacy_timestamps(),
    schema=S,
)

licence_version_purposes = Table(
    "licence_version_purposes",
    metadata,
    uuid_pk("licence_version_purpose_id"),
    ref("licence_version_id", nullable=False),
    ref("purpose_primary_id", nullable=False),
    ref("purpose_secondary_id", nullable=False),
    ref("purpose_use_id", nullable=False),
    *_abstraction_period(),
    Column("time_limited_start_date", Date),
    Column("time_limited_end_date", Date),
    Column("notes", Text),
    Column("instant_quantity", Numeric),
    Column("daily_quantity", Numeric),
    Column("hourly_quantity", Numeric),
    Column("annual_quantity", Numeric),
    Column("external_id", String, nullable=False, unique=True),
    *legacy_timestamps(),
    schema=S,
)

licence_version_purpose_condition_types = Table(
    "licence_version_purpose_condition_types",
    metadata,
    uuid_pk("licence_version_purpose_condition_type_id"),
    Column("code", String, nullable=False),
    Column("subcode", String, nullable=False),
    Column("description", String, nullable=False),
    Column("subcode_description", String),
    Column("display_title", String),
    Column("param_1_label", String),
    Column("param_2_label", String),
    UniqueConstraint("code", "subcode"),
    *legacy_timestamps(),
    schema=S,
)

licence_version_purpose_conditions = Table(
    "licence_version_purpose_conditions",
    metadata,
    uuid_pk("licence_version_purpose_condition_id"),
    ref("licence_version_purpose_id", nullable=False),
    ref("licence_version_purpose_condition_type_id", nullable=False),
    Column("param_1", String),
    Column("param_2", String),
    Column("notes", Text),
    Column("external_id", String, unique=True),
    Column("source", String, nullable=False, server_default=text("'nald'")),
    *legacy_timestamps(),
    schema=S,
)

financial_agreement_types = Table(
    "financial_agreement_types",
    metadata,
    uuid_pk("financial_agreement_type_id"),
    Column("financial_agreement_code", String, nullable=False, unique=True),
    Column("description", String),
    Column("disabled", Boolean, nullable=False, server_default=text("false")),
    *legacy_timestamps(),
    schema=S,
)

change_reasons = Table(
    "change_reasons",
    metadata,
    uuid_pk("change_reason_id"),
    Column("description", String, nullable=False, unique=True),
    Column("type", String),
    Column("is_enabled_for_new_charge_versions", Boolean, nullable=False, server_default=text("true")),
    *legacy_timestamps(),
    schema=S,
)

charge_versions = Table(
    "charge_versions",
    metadata,
    uuid_pk("charge_version_id"),
    ref("licence_id", nullable=False),
    Column("licence_ref", String, nullable=False),
    Column("scheme", String, nullable=False),  # sroc, alcs (PRESROC)
    Column("version_number", Integer, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("status", String, nullable=False),  # current, draft, superseded
    Column("region_code", Integer, nullable=False),
    Column("source", String, nullable=False),
    Column("external_id", String, unique=True),
    Column("billed_upto_date", Date),
    Column("apportionment", Boolean),
    Column("error", Boolean),
    ref("company_id"),
    ref("invoice_account_id"),
    ref("change_reason_id"),
    ref("note_id"),
    Column("created_by", JSONB),
    Column("approved_by", JSONB),
    *legacy_timestamps(),
    schema=S,
)

charge_elements = Table(
    "charge_elements",
    metadata,
    uuid_pk("charge_element_id"),
    ref("charge_version_id", nullable=False),
    *_abstraction_period(),
    Column("authorised_annual_quantity", Numeric),
    Column("volume", Numeric),
    Column("billable_annual_quantity", Numeric),
    Column("season", String),
    Column("season_derived", String),
    Column("source", String),
    Column("loss", String),
    Column("factors_overridden", Boolean, nullable=False, server_default=text("false")),
    Column("time_limited_start_date", Date),
    Column("time_limited_end_date", Date),
    Column("description", String),
    ref("purpose_primary_id"),
    ref("purpose_secondary_id"),
    ref("purpose_use_id"),
    Column("scheme", String, nullable=False, server_default=text("'alcs'")),
    ref("billing_charge_category_id"),
    Column("additional_charges", JSONB),
    Column("adjustments", JSONB),
    Column("is_section_126_agreement_enabled", Boolean, nullable=False, server_default=text("false")),
    Column("is_section_127_agreement_enabled", Boolean, nullable=False, server_default=text("false")),
    Column("is_section_130_agreement_enabled", Boolean, nullable=False, server_default=text("false")),
    Column("external_id", String, unique=True),
    *legacy_timestamps(),
    schema=S,
)

charge_purposes = Table(
    "charge_purposes",
    metadata,
    uuid_pk("charge_purpose_id"),
    ref("charge_element_id", nullable=False),
    *_abstraction_period(),
    Column("authorised_annual_quantity", Numeric),
    Column("loss", String),
    Column("time_limited_start_date", Date),
    Column("time_limited_end_date", Date),
    ref("purpose_primary_id"),
    ref("purpose_secondary_id"),
    ref("purpose_use_id"),
    *legacy_timestamps(),
    schema=S,
)

charge_version_workflows = Table(
    "charge_version_workflows",
    metadata,
    uuid_pk("charge_version_workflow_id"),
    ref("licence_id", nullable=False),
    ref("licence_version_id"),
    Column("status", String, nullable=False),  # to_setup, review, changes_requested
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_by", JSONB),
    Column("approver_comments", Text),
    Column("date_deleted", DateTime),
    Column("date_created", DateTime, nullable=False, server_default=func.now()),
    Column("date_updated", DateTime),
    # The water service's: one live workflow per licence version.
    Index(
        "charge_version_workflows_licence_version_id_live",
        "licence_version_id",
        unique=True,
        postgresql_where=text("date_deleted IS NULL"),
    ),
    schema=S,
)

billing_charge_categories = Table(
    "billing_charge_categories",
    metadata,
    uuid_pk("billing_charge_category_id"),
    Column("reference", String, nullable=False, unique=True),
    Column("subsistence_charge", Integer, nullable=False),
    Column("description", String, nullable=False),
    Column("short_description", String, nullable=False),
    Column("is_tidal", Boolean),
    Column("loss_factor", String),
    Column("model_tier", String),
    Column("is_restricted_source", Boolean),
    Column("min_volume", Numeric),
    Column("max_volume", Numeric),
    *legacy_timestamps(),
    schema=S,
)

# Bill runs. NALD's are brought in once by bill-runs-import (legacy_id `region:number`); the rest are WRLS's.
# The three foreign keys are the water service's: the legacy import dropped them for its load and left them
# dropped when a statement failed.
billing_batches = Table(
    "billing_batches",
    metadata,
    uuid_pk("billing_batch_id"),
    ref("region_id", nullable=False),
    Column("batch_type", String, nullable=False),  # annual, supplementary, two_part_tariff, two_part_supplementary
    Column("from_financial_year_ending", Integer, nullable=False),
    Column("to_financial_year_ending", Integer, nullable=False),
    Column("status", String, nullable=False),  # queued, processing, ready, review, sending, sent, empty, error, cancel
    Column("invoice_count", Integer),
    Column("credit_note_count", Integer),
    Column("invoice_value", Numeric),
    Column("credit_note_value", Numeric),
    Column("net_total", BigInteger),
    Column("bill_run_number", Integer),
    Column("is_summer", Boolean, nullable=False, server_default=text("false")),
    Column("source", String, nullable=False, server_default=text("'wrls'")),  # wrls, nald
    Column("scheme", String, nullable=False, server_default=text("'alcs'")),
    Column("external_id", UUID(as_uuid=False)),  # the Charging Module's bill run
    Column("legacy_id", String, unique=True),
    Column("metadata", JSONB),
    Column("transaction_file_reference", String),
    Column("error_code", Integer),
    *legacy_timestamps(),
    schema=S,
)

billing_invoices = Table(
    "billing_invoices",
    metadata,
    uuid_pk("billing_invoice_id"),
    ref("billing_batch_id", nullable=False),
    ref("invoice_account_id"),
    Column("invoice_account_number", String, nullable=False),
    Column("address", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("financial_year_ending", Integer, nullable=False),
    Column("net_amount", Numeric),
    Column("invoice_value", Numeric),
    Column("credit_note_value", Numeric),
    Column("is_credit", Boolean),
    Column("is_de_minimis", Boolean, nullable=False, server_default=text("false")),
    Column("invoice_number", String),
    Column("external_id", UUID(as_uuid=False)),
    Column("legacy_id", String, unique=True),
    Column("metadata", JSONB),
    Column("rebilling_state", String),
    Column(
        "original_billing_invoice_id",
        UUID(as_uuid=False),
        ForeignKey("water.billing_invoices.billing_invoice_id", name="fk_original_billing_invoice_id"),
    ),
    *legacy_timestamps(),
    schema=S,
)

billing_invoice_licences = Table(
    "billing_invoice_licences",
    metadata,
    uuid_pk("billing_invoice_licence_id"),
    ref("billing_invoice_id", nullable=False),
    Column("licence_ref", String, nullable=False),
    ref("licence_id"),
    *legacy_timestamps(),
    UniqueConstraint("billing_invoice_id", "licence_id"),
    schema=S,
)

billing_transactions = Table(
    "billing_transactions",
    metadata,
    uuid_pk("billing_transaction_id"),
    Column(
        "billing_invoice_licence_id",
        UUID(as_uuid=False),
        ForeignKey(
            "water.billing_invoice_licences.billing_invoice_licence_id",
            name="billing_transactions_billing_invoice_licence_id_fkey",
        ),
        nullable=False,
    ),
    ref("charge_element_id"),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("abstraction_period", JSONB),
    Column("source", String),
    Column("season", String),
    Column("loss", String),
    Column("is_credit", Boolean),
    Column("charge_type", String),  # standard, compensation, minimum_charge
    Column("authorised_quantity", Numeric),
    Column("billable_quantity", Numeric),
    Column("authorised_days", SmallInteger),
    Column("billable_days", SmallInteger),
    Column("status", String),
    Column("description", String),
    Column("volume", Numeric),
    Column("net_amount", Numeric),
    Column("section_126_factor", Numeric),
    Column("section_127_agreement", Boolean),
    Column("section_130_agreement", String),
    Column("is_two_part_second_part_charge", Boolean, nullable=False, server_default=text("false")),
    Column("is_de_minimis", Boolean, nullable=False, server_default=text("false")),
    Column("is_new_licence", Boolean, nullable=False, server_default=text("false")),
    Column("external_id", UUID(as_uuid=False)),
    Column("legacy_id", String, unique=True),
    Column("metadata", JSONB),
    Column(
        "source_transaction_id",
        UUID(as_uuid=False),
        ForeignKey(
            "water.billing_transactions.billing_transaction_id", name="billing_transactions_source_transaction_id_fkey"
        ),
    ),
    *(
        Column(f"calc_{factor}", Numeric)
        for factor in (
            "source_factor",
            "season_factor",
            "loss_factor",
            "suc_factor",
            "s_126_factor",
            "s_127_factor",
            "eiuc_factor",
            "eiuc_source_factor",
        )
    ),
    *legacy_timestamps(),
    schema=S,
)

billing_volumes = Table(
    "billing_volumes",
    metadata,
    uuid_pk("billing_volume_id"),
    ref("charge_element_id", nullable=False),
    ref("billing_batch_id", nullable=False),
    Column("financial_year", Integer, nullable=False),
    Column("is_summer", Boolean, nullable=False),
    Column("calculated_volume", Numeric),
    Column("volume", Numeric),
    Column("two_part_tariff_error", Boolean, nullable=False, server_default=text("false")),
    Column("two_part_tariff_status", Integer),
    Column("two_part_tariff_review", JSONB),
    Column("is_approved", Boolean, nullable=False, server_default=text("false")),
    Column("errored_on", DateTime),
    schema=S,
)

billing_batch_charge_version_years = Table(
    "billing_batch_charge_version_years",
    metadata,
    uuid_pk("billing_batch_charge_version_year_id"),
    ref("billing_batch_id", nullable=False),
    ref("charge_version_id", nullable=False),
    Column("financial_year_ending", Integer, nullable=False),
    Column("status", String, nullable=False),
    Column("transaction_type", String, nullable=False),  # annual, two_part_tariff
    Column("is_summer", Boolean, nullable=False),
    *legacy_timestamps(),
    schema=S,
)

events = Table(
    "events",
    metadata,
    uuid_pk("event_id"),
    Column("reference_code", String),
    Column("type", String),
    Column("subtype", String),
    Column("issuer", String),
    Column("licences", JSONB),
    Column("entities", JSONB),
    Column("comment", String),
    Column("metadata", JSONB),
    Column("status", String),
    Column("overall_status", String),
    Column("status_counts", JSONB),
    ref("trigger_notice_id"),
    Column("created", DateTime(timezone=False), server_default=func.now()),
    Column("modified", DateTime(timezone=False)),
    schema=S,
)

scheduled_notification = Table(
    "scheduled_notification",
    metadata,
    uuid_pk("id"),
    ref("event_id"),
    Column("recipient", String),
    Column("message_type", String),  # email, letter
    Column("message_ref", String),
    Column("template_id", String),
    Column("personalisation", JSONB),
    Column("status", String),  # pending, sent, error, cancelled, returned
    Column("notify_id", String),
    Column("notify_status", String),
    Column("log", Text),
    Column("plaintext", Text),
    Column("licences", JSONB),
    Column("return_log_ids", JSONB),
    ref("licence_gauging_station_id"),
    Column("pdf", LargeBinary),
    Column("due_date", Date),
    Column("returned_at", DateTime),
    ref("alternate_notice_id"),
    Column("contact_type", String),
    Column("send_after", DateTime),
    Column("status_checks", Integer),
    Column("next_status_check", DateTime),
    Column("job_id", String, unique=True),
    Column("date_created", DateTime, nullable=False, server_default=func.now()),
    Column("updated_at", DateTime, nullable=False, server_default=func.now()),
    # The water service's. send-message's one-row claim walks send_after: 2.3 ms a claim over a million
    # rows of history, against 115 ms without it (a sequential scan per notification sent).
    Index("idx_scheduled_notification_statuses", "status", "notify_status"),
    Index("scheduled_notification_idx_send_after", "send_after"),
    schema=S,
)

gauging_stations = Table(
    "gauging_stations",
    metadata,
    uuid_pk("gauging_station_id"),
    Column("label", String, nullable=False),
    Column("hydrology_station_id", UUID(as_uuid=False), unique=True),
    Column("lat", Numeric),
    Column("long", Numeric),
    Column("easting", Numeric),
    Column("northing", Numeric),
    Column("grid_reference", String),
    Column("catchment_name", String),
    Column("river_name", String),
    Column("wiski_id", String),
    Column("station_reference", String),
    Column("status", String),
    Column("metadata", JSONB),
    *legacy_timestamps(),
    schema=S,
)

licence_gauging_stations = Table(
    "licence_gauging_stations",
    metadata,
    uuid_pk("licence_gauging_station_id"),
    ref("licence_id", nullable=False),
    ref("gauging_station_id", nullable=False),
    ref("licence_version_purpose_condition_id"),
    Column("source", String, nullable=False),
    *_abstraction_period(),
    Column("restriction_type", String, nullable=False),  # flow, level
    Column("threshold_unit", String, nullable=False),
    Column("threshold_value", Numeric, nullable=False),
    Column("status", String, nullable=False, server_default=text("'resume'")),
    Column("date_status_updated", DateTime),
    Column("alert_type", String, nullable=False, server_default=text("'reduce'")),
    Column("date_deleted", DateTime),
    *legacy_timestamps(),
    schema=S,
)

return_versions = Table(
    "return_versions",
    metadata,
    uuid_pk("return_version_id"),
    ref("licence_id", nullable=False),
    Column("version_number", Integer, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("status", String, nullable=False),  # current, superseded, draft
    Column("reason", String),
    Column("multiple_upload", Boolean, nullable=False, server_default=text("false")),
    Column("quarterly_returns", Boolean, nullable=False, server_default=text("false")),
    Column("external_id", String, unique=True),
    *legacy_timestamps(),
    schema=S,
)

return_requirements = Table(
    "return_requirements",
    metadata,
    uuid_pk("return_requirement_id"),
    ref("return_version_id", nullable=False),
    Column("returns_frequency", String, nullable=False),
    Column("is_summer", Boolean, nullable=False, server_default=text("false")),
    Column("is_upload", Boolean, nullable=False, server_default=text("false")),
    *_abstraction_period(),
    Column("site_description", String),
    Column("description", String),
    Column("reporting_frequency", String),
    Column("collection_frequency", String),
    Column("two_part_tariff", Boolean),
    Column("legacy_id", Integer),
    Column("external_id", String, unique=True),
    *legacy_timestamps(),
    schema=S,
)

return_requirement_purposes = Table(
    "return_requirement_purposes",
    metadata,
    uuid_pk("return_requirement_purpose_id"),
    ref("return_requirement_id", nullable=False),
    ref("purpose_primary_id", nullable=False),
    ref("purpose_secondary_id", nullable=False),
    ref("purpose_use_id", nullable=False),
    Column("purpose_alias", String),
    Column("external_id", String, unique=True),
    *legacy_timestamps(),
    schema=S,
)

licence_end_date_changes = Table(
    "licence_end_date_changes",
    metadata,
    uuid_pk("id"),
    ref("licence_id", nullable=False),
    Column("date_type", String, nullable=False),
    Column("change_date", Date, nullable=False),
    Column("nald_date", Date),
    Column("wrls_date", Date),
    UniqueConstraint("licence_id", "date_type"),
    *timestamps(),
    schema=S,
)

# The valid (primary, secondary, use) combinations of NALD_PURPOSES (legacy
# charging-import importValidPurposeCombinations; the water service's
# migration made date_created NOT NULL without a default and date_updated nullable).
purposes = Table(
    "purposes",
    metadata,
    uuid_pk("purpose_id"),
    ref("purpose_primary_id", nullable=False),
    ref("purpose_secondary_id", nullable=False),
    ref("purpose_use_id", nullable=False),
    Column("date_created", DateTime, nullable=False, server_default=func.now()),
    Column("date_updated", DateTime),
    UniqueConstraint("purpose_primary_id", "purpose_secondary_id", "purpose_use_id"),
    schema=S,
)

# Which licences a supplementary bill run is to pick up, per financial year; a bill run that takes them sets
# `bill_run_id`, and cancelling it sets it back to NULL so the next run picks them up again.
licence_supplementary_years = Table(
    "licence_supplementary_years",
    metadata,
    uuid_pk("id"),
    ref("licence_id", nullable=False),
    ref("bill_run_id"),
    Column("financial_year_end", Integer, nullable=False),
    Column("two_part_tariff", Boolean),
    *timestamps(),
    schema=S,
)

# A two-part tariff bill run's review results: licences, then their charge versions, references and elements,
# and the returns matched to the elements. Only the keys that tie them to their bill run are modelled.
review_licences = Table(
    "review_licences",
    metadata,
    uuid_pk("id"),
    ref("bill_run_id", nullable=False),
    ref("licence_id", nullable=False),
    *timestamps(),
    schema=S,
)

review_charge_versions = Table(
    "review_charge_versions",
    metadata,
    uuid_pk("id"),
    ref("review_licence_id", nullable=False),
    ref("charge_version_id"),
    *timestamps(),
    schema=S,
)

review_charge_references = Table(
    "review_charge_references",
    metadata,
    uuid_pk("id"),
    ref("review_charge_version_id", nullable=False),
    ref("charge_reference_id"),
    *timestamps(),
    schema=S,
)

review_charge_elements = Table(
    "review_charge_elements",
    metadata,
    uuid_pk("id"),
    ref("review_charge_reference_id", nullable=False),
    ref("charge_element_id"),
    *timestamps(),
    schema=S,
)

review_returns = Table(
    "review_returns",
    metadata,
    uuid_pk("id"),
    ref("review_licence_id", nullable=False),
    Column("return_id", String),
    *timestamps(),
    schema=S,
)

review_charge_element_returns = Table(
    "review_charge_element_returns",
    metadata,
    uuid_pk("id"),
    ref("review_charge_element_id", nullable=False),
    ref("review_return_id", nullable=False),
    *timestamps(),
    schema=S,
)
