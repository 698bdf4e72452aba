"""customer-file-refresh.record-file-references: the newest customer file of each invoice account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from ...config import config
from ...runtime import PermanentError, StepContext
from ..charging_module import ChargingModule

DAYS = 7
PATH = f"v3/wrls/customer-files/{DAYS}"


@dataclass(frozen=True)
class CustomerFile:
    reference: str
    exported_at: datetime  # UTC, without time zone like the column it goes to
    customers: tuple[str, ...]


def parse_files(body: Any) -> list[CustomerFile]:
    """The Charging Module's ``[{id, fileReference, status, exportedAt, exportedCustomers}]``."""
    if not isinstance(body, list):
        raise PermanentError(f"Charging Module {PATH} answered {type(body).__name__}, not a list of files")
    files = []
    for n, item in enumerate(body):
        try:
            exported = datetime.fromisoformat(item["exportedAt"])
            if exported.tzinfo is not None:
                exported = exported.astimezone(UTC).replace(tzinfo=None)
            customers = item["exportedCustomers"]
            if (
                not isinstance(item["fileReference"], str)
                or not isinstance(customers, list)
                or not all(isinstance(c, str) for c in customers)
            ):
                raise TypeError
            files.append(CustomerFile(item["fileReference"], exported, tuple(customers)))
        except (KeyError, TypeError, ValueError):
            raise PermanentError(
                f"Charging Module {PATH}: file {n} is not "
                "{fileReference, exportedAt, exportedCustomers}: "
                f"{str(item)[:200]}"
            ) from None
    return files


def newest_per_account(files: list[CustomerFile]) -> dict[str, CustomerFile]:
    """Each account's newest file; the Charging Module's own order (oldest first) breaks ties."""
    latest: dict[str, CustomerFile] = {}
    for file in sorted(files, key=lambda f: f.exported_at):  # stable: equal times keep their order
        for account in file.customers:
            latest[account] = file
    return latest


# Only rows whose reference changes are touched, so an hourly run over the
# same 7 days leaves date_updated alone.
RECORD = text("""
WITH latest AS (
    SELECT * FROM unnest(CAST(:numbers AS text[]), CAST(:refs AS text[]), CAST(:dates AS timestamp[]))
        AS f(invoice_account_number, reference, exported_at)
), updated AS (
    UPDATE crm_v2.invoice_accounts ia
       SET last_transaction_file_reference = f.reference,
           date_last_transaction_file_reference_updated = f.exported_at,
           date_updated = now()
      FROM latest f
     WHERE ia.invoice_account_number = f.invoice_account_number
       AND ia.last_transaction_file_reference IS DISTINCT FROM f.reference
    RETURNING 1
)
SELECT (SELECT count(*) FROM updated) AS updated,
       (SELECT count(*) FROM latest f WHERE NOT EXISTS (
            SELECT 1 FROM crm_v2.invoice_accounts ia WHERE ia.invoice_account_number = f.invoice_account_number
       )) AS unknown
""")


def record_file_references(ctx: StepContext) -> None:
    files = parse_files(ChargingModule(config()).get(PATH))
    latest = newest_per_account(files)
    ctx.count("files", len(files))
    if not latest:
        ctx.end_run(f"no customer files in the last {DAYS} days")
        return
    accounts = sorted(latest)
    with ctx.engine.begin() as connection:
        updated, unknown = connection.execute(
            RECORD,
            {
                "numbers": accounts,
                "refs": [latest[a].reference for a in accounts],
                "dates": [latest[a].exported_at for a in accounts],
            },
        ).one()
    ctx.count("accounts_updated", updated)
    if unknown:
        # Accounts WRLS does not know (yet): reported, not an error; a later run sets them.
        ctx.count("accounts_unknown", unknown)
        ctx.logger.warning("%d accounts of the customer files are not in crm_v2.invoice_accounts", unknown)
    ctx.logger.info("%d customer files, %d accounts: %d updated", len(files), len(accounts), updated)
    ctx.end_run(f"{len(files)} customer files, {len(accounts)} accounts: {updated} updated")
