"""Task incomplete-company-contacts: additional contacts left without an email.

An additional contact exists to receive emails (abstraction alerts); one
whose contact has no email is a journey abandoned half way. Guarded
(jobs/guards.py), as the rows are people's details.
"""

from __future__ import annotations

from ...config import config
from ...runtime import StepContext
from .batches import count, delete_in_batches, guard

INCOMPLETE = """
    SELECT cc.company_contact_id FROM crm_v2.company_contacts cc
    JOIN crm_v2.roles r ON r.role_id = cc.role_id
    JOIN crm_v2.contacts c ON c.contact_id = cc.contact_id
    WHERE r.name = 'additionalContact' AND c.email IS NULL
"""


def delete_incomplete_company_contacts(ctx: StepContext) -> None:
    settings = config()
    guard(ctx, "crm_v2.company_contacts", INCOMPLETE, settings.max_delete_percent)
    deleted, batches = delete_in_batches(
        ctx.engine, "crm_v2.company_contacts", "company_contact_id", INCOMPLETE, settings.clean_batch_rows
    )
    count(ctx, "incomplete_company_contacts", deleted, batches)
