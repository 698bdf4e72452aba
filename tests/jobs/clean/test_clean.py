"""clean end to end: a real worker, PostgreSQL with the tables `db upgrade` makes, RabbitMQ and a fake
Charging Module. Each legacy rule has rows on both sides of it."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import text

from tests.jobs.clean.conftest import (
    bill_run,
    bill_run_rows,
    company_contact,
    contact,
    ids,
    insert,
    return_log,
    session,
)
from tests.support import services as svc
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready
from tests.support.messages import publish
from wrls_actors.jobs.clean.batches import delete_in_batches

JOB = "clean"
TASKS = ("empty_bill_runs", "void_return_logs", "expired_sessions", "incomplete_company_contacts", "orphaned_contacts")
BILL_RUN_TABLES = (
    "billing_batches",
    "billing_invoices",
    "billing_invoice_licences",
    "billing_transactions",
    "billing_batch_charge_version_years",
    "billing_volumes",
    "review_licences",
    "review_charge_versions",
    "review_charge_references",
    "review_charge_elements",
    "review_returns",
    "review_charge_element_returns",
)


def run(wrls, params=None, timeout_s: float = 60):
    return wait_run_ended(wrls, wrls.trigger(JOB, params), timeout_s)


def deleted(run) -> dict[str, int]:
    return {task: run.counts.get(task) for task in TASKS}


def test_each_rule_deletes_what_it_names_in_batches_and_a_second_run_nothing(wrls, worker, vhost, cm):
    # Empty bill runs: one the Charging Module holds, one it never had; others are not empty.
    empty_cm, empty_local = str(uuid.uuid4()), None
    cm.add_bill_run(empty_cm)
    gone = [bill_run(wrls, "empty", empty_cm), bill_run(wrls, "empty", empty_local)]
    for batch in gone:
        bill_run_rows(wrls, batch)
    kept_runs = {bill_run(wrls, status, str(uuid.uuid4())) for status in ("ready", "sent", "cancel", "error")}
    kept_years = {bill_run_rows(wrls, batch)["licence_supplementary_years"] for batch in kept_runs}
    released = ids(wrls, "SELECT id FROM water.licence_supplementary_years") - kept_years
    # Void return logs: only void, unreceived and never submitted ones go.
    void = {return_log(wrls, f"v1:1:01/123:{n}:2023-04-01:2024-03-31", "void") for n in range(3)}
    kept_logs = {
        return_log(wrls, "v1:1:01/123:10:2023-04-01:2024-03-31", "void", received="2024-04-10"),
        return_log(wrls, "v1:1:01/123:11:2023-04-01:2024-03-31", "due"),
        return_log(wrls, "v1:1:01/123:12:2023-04-01:2024-03-31", "completed"),
    }
    by_id = return_log(wrls, "v1:1:01/123:13:2023-04-01:2024-03-31", "void")
    by_return_id = return_log(wrls, "v1:1:01/123:14:2023-04-01:2024-03-31", "void")
    insert(
        wrls,
        "INSERT INTO returns.versions (return_id, return_log_id, version_number) "
        "SELECT return_id, id, 1 FROM returns.returns WHERE return_id = :r RETURNING version_id",
        r=by_id,
    )
    insert(
        wrls,
        "INSERT INTO returns.versions (return_id, version_number) VALUES (:r, 1) RETURNING version_id",
        r=by_return_id,
    )
    kept_logs |= {by_id, by_return_id}
    # Sessions: over a day old go.
    expired = {session(wrls, f"{hours} hours") for hours in (25, 48, 24 * 30)}
    fresh = {session(wrls, "23 hours"), session(wrls, "0 seconds")}
    # Company contacts: an additional contact without an email goes; with one, or in another role, it stays.
    emailless = contact(wrls, None)
    incomplete = company_contact(wrls, emailless, "additionalContact")
    kept_company_contacts = {
        company_contact(wrls, contact(wrls, "jo@example.com"), "additionalContact"),
        company_contact(wrls, contact(wrls, None), "licenceHolder"),
    }
    # Contacts: one nothing names goes; each kind of reference keeps one.
    orphans = {contact(wrls, "orphan@example.com"), contact(wrls, None)}
    by_address = contact(wrls, None)
    insert(
        wrls,
        "INSERT INTO crm_v2.invoice_account_addresses (invoice_account_id, address_id, start_date, "
        "contact_id) VALUES (gen_random_uuid(), gen_random_uuid(), '2020-01-01', :c) "
        "RETURNING invoice_account_address_id",
        c=by_address,
    )
    by_role = contact(wrls, None)
    insert(
        wrls,
        "INSERT INTO crm_v2.document_roles (document_id, role_id, contact_id, start_date) "
        "VALUES (gen_random_uuid(), gen_random_uuid(), :c, '2020-01-01') RETURNING document_role_id",
        c=by_role,
    )
    kept_contacts = ids(wrls, "SELECT contact_id FROM crm_v2.contacts") - orphans - {emailless}

    worker(extra_env={"WRLS_MAX_DELETE_PERCENT": "100"})
    wait_worker_ready(vhost, "default")
    first = run(wrls)

    assert first.status == "succeeded", first.error
    assert ids(wrls, "SELECT billing_batch_id FROM water.billing_batches") == kept_runs
    for table in BILL_RUN_TABLES[1:]:
        column = "bill_run_id" if table == "review_licences" else "billing_batch_id"
        if table in ("billing_invoices", "billing_batch_charge_version_years", "billing_volumes", "review_licences"):
            assert ids(wrls, f"SELECT DISTINCT {column} FROM water.{table}") == kept_runs, table
        # One row per bill run in every table: the two empty runs' rows are gone, the others' kept.
        assert scalar(wrls, f"SELECT count(*) FROM water.{table}") == len(kept_runs), table
    years = {
        str(r.id): r.bill_run_id for r in query(wrls, "SELECT id, bill_run_id FROM water.licence_supplementary_years")
    }
    assert {y for y, b in years.items() if b is None} == released and len(released) == 2
    assert [(r.method, r.path, r.status) for r in cm.received("DELETE")] == [
        ("DELETE", f"/v3/wrls/bill-runs/{empty_cm}", 204)
    ]
    assert ids(wrls, "SELECT return_id FROM returns.returns") == kept_logs and len(void) == 3
    assert ids(wrls, "SELECT id FROM public.sessions") == fresh and len(expired) == 3
    assert ids(wrls, "SELECT company_contact_id FROM crm_v2.company_contacts") == kept_company_contacts
    remaining = ids(wrls, "SELECT contact_id FROM crm_v2.contacts")
    assert remaining - {emailless} == kept_contacts and not remaining & orphans
    assert deleted(first) == {
        "empty_bill_runs": 2,
        "void_return_logs": 3,
        "expired_sessions": 3,
        "incomplete_company_contacts": 1,
        "orphaned_contacts": 2 + (emailless not in remaining),
    }
    # Batches of 2: three rows take two statements, one row one; each its own transaction.
    assert (
        first.counts["void_return_logs_batches"],
        first.counts["expired_sessions_batches"],
        first.counts["incomplete_company_contacts_batches"],
    ) == (2, 2, 1)
    assert first.note.startswith("deleted 2 empty-bill-runs, 3 void-return-logs, 3 expired-sessions, ")
    assert "failed" not in first.note

    # The incomplete company contact's contact is an orphan now: gone by the next run at the latest.
    second = run(wrls)
    assert second.status == "succeeded", second.error
    assert ids(wrls, "SELECT contact_id FROM crm_v2.contacts") == kept_contacts
    assert deleted(second) == {
        "empty_bill_runs": 0,
        "void_return_logs": 0,
        "expired_sessions": 0,
        "incomplete_company_contacts": 0,
        "orphaned_contacts": int(emailless in remaining),
    }
    assert incomplete not in ids(wrls, "SELECT company_contact_id FROM crm_v2.company_contacts")


def test_a_charging_module_failing_fails_only_the_empty_bill_runs_and_keeps_them(wrls, worker, vhost, cm):
    external = str(uuid.uuid4())
    cm.add_bill_run(external)
    empty = bill_run(wrls, "empty", external)
    bill_run_rows(wrls, empty)
    expired = session(wrls, "2 days")
    void = return_log(wrls, "v1:1:01/123:1:2023-04-01:2024-03-31", "void")
    cm.fail(500, times=3)  # the first attempt and both retries
    worker(extra_env={"WRLS_MAX_DELETE_PERCENT": "100"})
    wait_worker_ready(vhost, "default")

    result = run(wrls, timeout_s=90)

    assert result.status == "completed-with-failures", result.error
    assert result.children_failed == 1
    assert "failed: empty-bill-runs (" in result.note and "answered 500" in result.note
    assert result.note.startswith("deleted 1 void-return-logs, 1 expired-sessions, 0 incomplete-company-contacts")
    # Tried once and retried twice; the bill run and its rows wait, still empty, for the next run.
    assert [r.status for r in cm.received("DELETE")] == [500, 500, 500]
    assert ids(wrls, "SELECT billing_batch_id FROM water.billing_batches WHERE status = 'empty'") == {empty}
    assert scalar(wrls, "SELECT count(*) FROM water.billing_transactions") == 1
    assert expired not in ids(wrls, "SELECT id FROM public.sessions")
    assert void not in ids(wrls, "SELECT return_id FROM returns.returns")
    assert (
        scalar(
            wrls,
            "SELECT count(*) FROM jobs.events WHERE kind = 'run-completed-with-failures' AND run_id = :r",
            r=result.run_id,
        )
        == 1
    )

    again = run(wrls)
    assert again.status == "succeeded", again.error
    assert ids(wrls, "SELECT billing_batch_id FROM water.billing_batches") == set()
    assert cm.bill_runs == set()


def test_the_guard_refuses_a_large_share_of_contacts_until_a_forced_start_by_message(wrls, worker, vhost, cm):
    orphan = contact(wrls, None)
    company_contact(wrls, contact(wrls, "jo@example.com"), "licenceHolder")
    expired = session(wrls, "2 days")
    worker()  # WRLS_MAX_DELETE_PERCENT at its default, 5
    wait_worker_ready(vhost, "default")

    refused = run(wrls)
    assert refused.status == "completed-with-failures"
    assert "failed: orphaned-contacts (" in refused.note
    assert "refusing to delete 1 of 2 live rows of crm_v2.contacts" in refused.note
    assert orphan in ids(wrls, "SELECT contact_id FROM crm_v2.contacts")
    assert expired not in ids(wrls, "SELECT id FROM public.sessions")  # not guarded: scratch space

    publish(
        vhost,
        "control",
        json.dumps(
            {
                "queue_name": "control",
                "actor_name": "start-job",
                "message_id": str(uuid.uuid4()),
                "kwargs": {"job": JOB, "params": {"force": True}},
            }
        ).encode(),
    )
    forced_id = svc.wait_for(
        lambda: scalar(wrls, "SELECT run_id::text FROM jobs.runs WHERE job = :j AND trigger = 'message'", j=JOB),
        30,
        what="the forced run",
    )
    forced = wait_run_ended(wrls, forced_id, 60)
    assert forced.status == "succeeded", forced.note
    assert forced.params == {"force": True}
    assert orphan not in ids(wrls, "SELECT contact_id FROM crm_v2.contacts")


def test_deleting_in_batches_takes_each_batch_in_its_own_statement_until_one_is_short(wrls):
    with wrls.engine.begin() as connection:
        connection.execute(text("CREATE TABLE clean_batch_test (id int PRIMARY KEY, keep boolean)"))
        connection.execute(text("INSERT INTO clean_batch_test SELECT g, g % 3 = 0 FROM generate_series(1, 12) g"))
    matching = "SELECT id FROM clean_batch_test WHERE NOT keep AND id > :above"
    # 8 rows to delete: 3, 3, 2.
    assert delete_in_batches(wrls.engine, "clean_batch_test", "id", matching, 3, above=0) == (8, 3)
    assert ids(wrls, "SELECT id FROM clean_batch_test") == {"3", "6", "9", "12"}
    # A full last batch needs one more, empty, to know it was the last.
    with wrls.engine.begin() as connection:
        connection.execute(text("UPDATE clean_batch_test SET keep = false"))
    assert delete_in_batches(wrls.engine, "clean_batch_test", "id", matching, 2, above=0) == (4, 3)
    assert ids(wrls, "SELECT id FROM clean_batch_test") == set()
