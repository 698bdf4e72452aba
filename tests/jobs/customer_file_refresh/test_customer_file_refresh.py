"""customer-file-refresh end to end: a real worker, PostgreSQL, RabbitMQ and a fake Charging Module
that issues client-credentials tokens."""

from __future__ import annotations

from datetime import datetime

from tests.jobs.conftest import snapshot
from tests.jobs.customer_file_refresh.conftest import add_accounts
from tests.support.helpers import free_port, query, wait_run_ended, wait_worker_ready

JOB = "customer-file-refresh"
FILES = "/v3/wrls/customer-files/7"


def run(wrls, timeout_s: float = 30):
    return wait_run_ended(wrls, wrls.trigger(JOB), timeout_s)


def accounts(wrls) -> dict[str, tuple]:
    rows = query(
        wrls,
        "SELECT invoice_account_number, last_transaction_file_reference, "
        "date_last_transaction_file_reference_updated, date_updated FROM crm_v2.invoice_accounts",
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def attempts(wrls, run_id) -> int:
    [step] = query(wrls, "SELECT attempt FROM jobs.steps WHERE run_id = :r", r=run_id)
    return step.attempt


def test_the_newest_file_of_each_account_wins_and_a_second_run_changes_nothing(wrls, worker, vhost, cm):
    add_accounts(wrls, "A10000001A", "A10000002A", "A10000003A")
    add_accounts(wrls, "A10000004A", reference="nalai50007")
    # Listed as the Charging Module lists them, oldest first, except one late file out of order.
    cm.add_file("nalai50001", "2024-01-10T09:00:00.000Z", ["A10000001A", "A10000002A"])
    cm.add_file("nalai50003", "2024-01-12T11:30:00.000Z", ["A10000001A", "Z99999999Z"])
    cm.add_file("nalai50002", "2024-01-11T10:00:00.000Z", ["A10000001A"])
    cm.add_file("nalai50007", "2024-01-09T08:00:00.000Z", ["A10000004A"])  # already recorded
    worker()
    wait_worker_ready(vhost, "default")

    first = run(wrls)
    assert first.status == "succeeded", first.error
    after = accounts(wrls)
    assert after["A10000001A"][:2] == ("nalai50003", datetime(2024, 1, 12, 11, 30))
    assert after["A10000002A"][:2] == ("nalai50001", datetime(2024, 1, 10, 9))
    assert after["A10000003A"] == (None, None, datetime(2020, 1, 1))  # in no file
    assert after["A10000004A"] == ("nalai50007", None, datetime(2020, 1, 1))  # unchanged: not touched
    assert first.counts == {"files": 4, "accounts_updated": 2, "accounts_unknown": 1}
    assert first.note == "4 customer files, 4 accounts: 2 updated"

    second = run(wrls)
    assert second.status == "succeeded", second.error
    assert accounts(wrls) == after
    assert second.counts == {"files": 4, "accounts_updated": 0, "accounts_unknown": 1}
    # One token, cached, for both runs.
    assert [r.status for r in cm.received("POST")] == [200]
    gets = cm.received("GET", FILES)
    assert [r.status for r in gets] == [200, 200] and gets[0].token is not None and gets[0].token == gets[1].token


def test_a_refused_token_is_replaced_and_the_request_tried_again(wrls, worker, vhost, cm):
    add_accounts(wrls, "A10000001A")
    cm.add_file("nalai50001", "2024-01-10T09:00:00.000Z", ["A10000001A"])
    worker()
    wait_worker_ready(vhost, "default")
    assert run(wrls).status == "succeeded"

    cm.revoke_tokens()  # the cached token is refused from now on
    cm.add_file("nalai50002", "2024-01-11T09:00:00.000Z", ["A10000001A"])
    again = run(wrls)
    assert again.status == "succeeded", again.error
    assert attempts(wrls, again.run_id) == 1  # renewed within the attempt
    seen = [(r.method, r.status) for r in cm.received()]
    assert seen == [("POST", 200), ("GET", 200), ("GET", 401), ("POST", 200), ("GET", 200)]
    gets = cm.received("GET")
    assert gets[1].token == gets[0].token and gets[2].token != gets[0].token
    assert accounts(wrls)["A10000001A"][0] == "nalai50002"


def test_a_charging_module_error_is_retried_and_then_fails_the_run_with_nothing_written(wrls, worker, vhost, cm):
    add_accounts(wrls, "A10000001A")
    cm.add_file("nalai50001", "2024-01-10T09:00:00.000Z", ["A10000001A"])
    cm.fail(503, times=3)
    worker()
    wait_worker_ready(vhost, "default")
    before = snapshot(wrls, ("crm_v2",))

    failed = run(wrls)
    assert failed.status == "failed"
    assert f"Charging Module GET {FILES.lstrip('/')} answered 503" in failed.error
    assert attempts(wrls, failed.run_id) == 3
    assert len(query(wrls, "SELECT 1 FROM jobs.events WHERE run_id = :r AND kind = 'retrying'", r=failed.run_id)) == 2
    assert snapshot(wrls, ("crm_v2",)) == before

    cm.fail(500, times=1)  # one more error, then the Charging Module is back
    recovered = run(wrls)
    assert recovered.status == "succeeded", recovered.error
    assert attempts(wrls, recovered.run_id) == 2
    assert accounts(wrls)["A10000001A"][0] == "nalai50001"


def test_an_unreachable_charging_module_fails_the_run_clearly_with_nothing_written(wrls, worker, vhost, cm):
    add_accounts(wrls, "A10000001A")
    worker({"WRLS_CHARGING_MODULE_URL": f"http://127.0.0.1:{free_port()}"})  # nothing listens there
    wait_worker_ready(vhost, "default")
    before = snapshot(wrls, ("crm_v2",))

    failed = run(wrls)
    assert failed.status == "failed"
    assert "Charging Module GET http://127.0.0.1:" in failed.error and "cannot connect" in failed.error
    assert "Connection refused" in failed.error
    assert attempts(wrls, failed.run_id) == 3
    assert cm.client_secret not in failed.error
    assert snapshot(wrls, ("crm_v2",)) == before
