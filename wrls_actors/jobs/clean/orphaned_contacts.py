"""Task orphaned-contacts: contacts nothing refers to.

A contact is kept while a company contact, an invoice account address or a
licence document role names it. Guarded (jobs/guards.py): a short NALD
extract removes document roles, which would orphan real contacts.
"""

from __future__ import annotations

from ...config import config
from ...runtime import StepContext
from .batches import count, delete_in_batches, guard

ORPHANED = """
    SELECT c.contact_id FROM crm_v2.contacts c
    WHERE NOT EXISTS (SELECT 1 FROM crm_v2.company_contacts cc WHERE cc.contact_id = c.contact_id)
      AND NOT EXISTS (SELECT 1 FROM crm_v2.invoice_account_addresses a WHERE a.contact_id = c.contact_id)
      AND NOT EXISTS (SELECT 1 FROM crm_v2.document_roles d WHERE d.contact_id = c.contact_id)
"""


def delete_orphaned_contacts(ctx: StepContext) -> None:
    settings = config()
    guard(ctx, "crm_v2.contacts", ORPHANED, settings.max_delete_percent)
    deleted, batches = delete_in_batches(
        ctx.engine, "crm_v2.contacts", "contact_id", ORPHANED, settings.clean_batch_rows
    )
    count(ctx, "orphaned_contacts", deleted, batches)
