"""check-for-updated-invoice-accounts end to end: crm_v2 rows with NALD hashes, a real worker, RabbitMQ,
PostgreSQL, and the fake GOV.UK Notify that verifies the official client's JWT."""

from __future__ import annotations

from tests.jobs.check_for_updated_invoice_accounts.conftest import MAILBOX, TEMPLATE, Crm
from tests.support.helpers import query, wait_run_ended, wait_worker_ready

JOB = "check-for-updated-invoice-accounts"
EMAIL = "/v2/notifications/email"


def run(wrls):
    return wait_run_ended(wrls, wrls.trigger(JOB), 30)


def test_one_email_lists_the_changed_accounts_and_the_same_changes_are_not_mailed_twice(wrls, worker, vhost, notify):
    crm = Crm(wrls)
    unchanged = crm.company("1:100")
    crm.account("A00000001A", crm.company("1:101", "h1", "h2"))  # the account's company changed
    crm.account("A00000002A", unchanged, crm.address())  # nothing changed
    moved = crm.address("h1", "h2")
    crm.account("A00000003A", crm.company("1:103"), moved)  # its address changed
    crm.account("A00000004A", crm.company("1:104"), crm.address(), agent_id=crm.company("1:900", "h1", "h9"))
    crm.account("B00000005A", crm.company("2:105"), crm.address(), contact_id=crm.contact("h1", "h3"))
    crm.account("A00000006A", crm.company("1:106", None, "h1"))  # hashed once only: not a change
    worker()
    wait_worker_ready(vhost, "default")

    first = run(wrls)
    assert first.status == "succeeded", first.error
    [email] = notify.emails()
    assert email["email_address"] == MAILBOX and email["template"]["id"] == TEMPLATE
    assert email["personalisation"] == {
        "content": [
            "A00000001A (Legacy identifier 1:101)",
            "A00000003A (Legacy identifier 1:103)",
            "A00000004A (Legacy identifier 1:104)",
            "B00000005A (Legacy identifier 2:105)",
        ]
    }
    assert email["reference"].startswith("wrls-nald-changes:test:")
    assert notify.received("POST", EMAIL)[0].claims["iss"] == notify.service_id
    assert first.counts == {"accounts_changed": 4, "emails_sent": 1, "accounts_reported": 4}
    assert first.note == f"4 changed invoice accounts: sent as notification {email['id']}"

    # The hashes are never reset: the next run finds the same changes and mails nothing.
    second = run(wrls)
    assert second.status == "succeeded", second.error
    assert second.note == "4 changed invoice accounts, all reported before: no email"
    assert len(notify.emails()) == 1

    # A further change of one account's address is news again, for that account only.
    crm.rehash("addresses", "address_id", moved, "h3")
    third = run(wrls)
    assert third.status == "succeeded", third.error
    assert len(notify.emails()) == 2
    assert notify.emails()[1]["personalisation"] == {"content": ["A00000003A (Legacy identifier 1:103)"]}
    assert third.counts == {"accounts_changed": 4, "emails_sent": 1, "accounts_reported": 1}


def test_nothing_changed_sends_nothing(wrls, worker, vhost, notify):
    crm = Crm(wrls)
    crm.account("A00000001A", crm.company("1:101"), crm.address(), contact_id=crm.contact())
    worker()
    wait_worker_ready(vhost, "default")
    done = run(wrls)
    assert done.status == "succeeded", done.error
    assert done.note == "no changed invoice accounts: no email"
    assert notify.requests == []


def test_without_a_mailbox_the_run_fails_at_once(wrls, worker, vhost, notify):
    Crm(wrls).account("A00000001A", Crm(wrls).company("1:101", "h1", "h2"))
    worker({"WRLS_NALD_SERVICE_MAILBOX": ""})
    wait_worker_ready(vhost, "default")
    failed = run(wrls)
    assert failed.status == "failed"
    assert "WRLS_NALD_SERVICE_MAILBOX is not set" in failed.error
    [step] = query(wrls, "SELECT attempt FROM jobs.steps WHERE run_id = :r", r=failed.run_id)
    assert step.attempt == 1 and notify.requests == []
