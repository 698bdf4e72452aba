"""The WRLS jobs: one folder per job, one module per step.

A scheduled tick of a job that is not here yet is recorded as ``no-steps``.
"""

from ..runtime import Job
from . import (
    bill_runs_import,
    charge_categories_sync,
    charging_import_data,
    charging_import_versions,
    check_for_updated_invoice_accounts,
    check_status,
    clean,
    customer_file_refresh,
    digitise_to_licence_gauging_stations,
    digitise_to_lvp_sync,
    export,
    gauging_stations_sync,
    licence_import,
    licence_not_in_charge_version_workflow,
    licence_updates,
    nald_import,
    refresh_event,
    send_message,
    time_limited,
    tracker,
)

JOBS: tuple[Job, ...] = (
    *nald_import.JOBS,
    *charging_import_data.JOBS,
    *licence_import.JOBS,
    *charging_import_versions.JOBS,
    *bill_runs_import.JOBS,
    *tracker.JOBS,
    *customer_file_refresh.JOBS,
    *check_for_updated_invoice_accounts.JOBS,
    *licence_not_in_charge_version_workflow.JOBS,
    *charge_categories_sync.JOBS,
    *gauging_stations_sync.JOBS,
    *send_message.JOBS,
    *check_status.JOBS,
    *refresh_event.JOBS,
    *digitise_to_licence_gauging_stations.JOBS,
    *digitise_to_lvp_sync.JOBS,
    *export.JOBS,
    *time_limited.JOBS,
    *licence_updates.JOBS,
    *clean.JOBS,
)
