"""check-for-updated-invoice-accounts.report-changes: mail the accounts not yet reported for their hashes.

Exactly one email per set of changes: the email's Notify ``reference`` is a
digest of the accounts and hashes it lists, and it is looked up before
sending, so a retry after Notify accepted the email (the answer lost, the
worker killed) does not send it again. The accounts are recorded as reported
only once Notify has the email.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, text

from ...config import config
from ...runtime import PermanentError, StepContext
from ..shared import notify_email as notify

# Each account with the entities of it whose NALD hash changed, and a digest of
# those entities and their current hashes (what "the same hashes" means). The
# legacy CRM compared with `<>`, so an entity never hashed twice (last_hash
# NULL) is not a change; its agent companies, contacts and addresses come from
# every invoice_account_addresses row of the account.
CHANGED = text("""
WITH changed AS (
    SELECT ia.invoice_account_id, 'company:' || c.company_id || ':' || c.current_hash AS entity
      FROM crm_v2.invoice_accounts ia JOIN crm_v2.companies c ON c.company_id = ia.company_id
     WHERE c.last_hash <> c.current_hash
    UNION
    SELECT iaa.invoice_account_id, 'company:' || c.company_id || ':' || c.current_hash
      FROM crm_v2.invoice_account_addresses iaa JOIN crm_v2.companies c ON c.company_id = iaa.agent_company_id
     WHERE c.last_hash <> c.current_hash
    UNION
    SELECT iaa.invoice_account_id, 'contact:' || c.contact_id || ':' || c.current_hash
      FROM crm_v2.invoice_account_addresses iaa JOIN crm_v2.contacts c ON c.contact_id = iaa.contact_id
     WHERE c.last_hash <> c.current_hash
    UNION
    SELECT iaa.invoice_account_id, 'address:' || a.address_id || ':' || a.current_hash
      FROM crm_v2.invoice_account_addresses iaa JOIN crm_v2.addresses a ON a.address_id = iaa.address_id
     WHERE a.last_hash <> a.current_hash
)
SELECT ia.invoice_account_id, ia.invoice_account_number, co.external_id AS company_legacy_id,
       md5(string_agg(ch.entity, ',' ORDER BY ch.entity)) AS hashes,
       r.hashes IS NOT DISTINCT FROM md5(string_agg(ch.entity, ',' ORDER BY ch.entity)) AS reported
  FROM changed ch
  JOIN crm_v2.invoice_accounts ia ON ia.invoice_account_id = ch.invoice_account_id
  LEFT JOIN crm_v2.companies co ON co.company_id = ia.company_id
  LEFT JOIN water_import.invoice_account_changes_reported r ON r.invoice_account_id = ia.invoice_account_id
 GROUP BY ia.invoice_account_id, ia.invoice_account_number, co.external_id, r.hashes
 ORDER BY ia.invoice_account_number
""")

# Accounts whose changes were settled are forgotten, so a later change back
# to the same hashes is news again.
FORGET_SETTLED = text("""
DELETE FROM water_import.invoice_account_changes_reported
 WHERE NOT (invoice_account_id = ANY(CAST(:changed AS uuid[])))
""")

RECORD = text("""
INSERT INTO water_import.invoice_account_changes_reported (invoice_account_id, hashes, notification_id, reported_at)
SELECT f.id, f.hashes, f.notification_id, now()
  FROM unnest(CAST(:ids AS uuid[]), CAST(:hashes AS text[]), CAST(:notification AS text[]))
       AS f(id, hashes, notification_id)
ON CONFLICT (invoice_account_id) DO UPDATE
   SET hashes = excluded.hashes, notification_id = excluded.notification_id, reported_at = excluded.reported_at
""")


def line(account) -> str:
    """The legacy's line for one account."""
    return f"{account.invoice_account_number} (Legacy identifier {account.company_legacy_id})"


def reference(environment: str, accounts) -> str:
    """Notify's ``reference`` for an email listing these accounts with these hashes."""
    digest = hashlib.sha256("\n".join(f"{a.invoice_account_id}:{a.hashes}" for a in accounts).encode()).hexdigest()
    return f"wrls-nald-changes:{environment}:{digest[:32]}"


def report_changes(ctx: StepContext) -> None:
    cfg = config()
    if not cfg.nald_service_mailbox:
        raise PermanentError("WRLS_NALD_SERVICE_MAILBOX is not set: nobody to tell of changed invoice accounts")
    # Checked before reading anything, so a missing key fails every run, not only those with news.
    client = notify.client(cfg)
    with ctx.engine.begin() as connection:
        changed = connection.execute(CHANGED).all()
        connection.execute(FORGET_SETTLED, {"changed": [a.invoice_account_id for a in changed]})
    news = [a for a in changed if not a.reported]
    ctx.count("accounts_changed", len(changed))
    if not changed:
        ctx.end_run("no changed invoice accounts: no email")
        return
    if not news:
        ctx.end_run(f"{len(changed)} changed invoice accounts, all reported before: no email")
        return
    ref = reference(cfg.environment, news)
    sent = notify.find_by_reference(client, ref)
    if sent is not None:
        ctx.logger.warning(
            "email %s was already accepted by Notify (notification %s): not sent again", ref, sent.get("id")
        )
        how = "already sent"
    else:
        sent = notify.send_email(
            client, cfg.nald_service_mailbox, cfg.nald_changes_template_id, {"content": [line(a) for a in news]}, ref
        )
        ctx.count("emails_sent")
        how = "sent"
    with ctx.engine.begin() as connection:
        record(connection, news, sent.get("id"))
    ctx.count("accounts_reported", len(news))
    ctx.logger.info("%d changed invoice accounts reported: %s as notification %s", len(news), how, sent.get("id"))
    ctx.end_run(f"{len(news)} changed invoice accounts: {how} as notification {sent.get('id')}")


def record(connection: Connection, accounts, notification_id: str | None) -> None:
    connection.execute(
        RECORD,
        {
            "ids": [a.invoice_account_id for a in accounts],
            "hashes": [a.hashes for a in accounts],
            "notification": [notification_id] * len(accounts),
        },
    )
