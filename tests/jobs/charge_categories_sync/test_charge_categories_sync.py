"""charge-categories-sync end to end: a CSV in a real S3 API server (moto), a
real worker, RabbitMQ and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.jobs.conftest import snapshot
from tests.support.helpers import query, scalar, wait_run_ended, wait_worker_ready

KEY = "billing-metadata/charge-categories.csv"
HEADER = (
    "reference,subsistence_charge,description,short_description,min_volume,max_volume,is_tidal,"
    "loss_factor,model_tier,is_restricted_source"
)
ROWS = [
    "4.1.1,1495,Low loss non-tidal abstraction of restricted water up to 5 ML,Low loss up to 5 ML,0,5000,FALSE,"
    "low,tier 1,TRUE",
    "4.1.2,2990,Low loss tidal abstraction up to 5 ML,Low loss tidal,0,5000,TRUE,low,tier 1,FALSE",
    "4.6.24,258690,High loss abstraction over 50000 ML,High loss,50000,9999999999999,FALSE,high,tier 2,FALSE",
]


def upload(s3, bucket, *lines: str) -> str:
    s3.client().put_object(Bucket=bucket, Key=KEY, Body=("\n".join([HEADER, *lines]) + "\n").encode())
    return s3.client().head_object(Bucket=bucket, Key=KEY)["ETag"].strip('"')


def sync(wrls, params=None):
    return wait_run_ended(wrls, wrls.trigger("charge-categories-sync", params or {}), 60)


def stored_etag(wrls):
    return scalar(wrls, "SELECT data->>'etag' FROM water.application_state WHERE key = 'charge-categories-import'")


def categories(wrls) -> dict:
    return {r.reference: r for r in query(wrls, "SELECT * FROM water.billing_charge_categories")}


@pytest.fixture
def started(wrls, worker, vhost, bucket):
    worker({"WRLS_SERVICE_BUCKET": bucket})
    wait_worker_ready(vhost, "default")
    return wrls


def test_a_file_is_inserted_then_gated_by_its_etag_and_only_changed_values_are_written(started, s3, bucket):
    wrls = started
    etag = upload(s3, bucket, *ROWS)
    run = sync(wrls)
    assert run.status == "succeeded", run.error
    assert run.counts == {
        "rows_read": 3,
        "inserted": 3,
        "updated": 0,
        "unchanged": 0,
        "file_bytes": run.counts["file_bytes"],
    }
    rows = categories(wrls)
    assert (rows["4.6.24"].max_volume, rows["4.1.1"].is_tidal, rows["4.1.1"].is_restricted_source) == (
        9999999999999,
        False,
        True,
    )
    assert stored_etag(wrls) == etag

    before = snapshot(wrls, ("water",))
    same = sync(wrls)
    assert same.status == "succeeded"
    assert same.note == f"no change: {KEY} ETag {etag} already imported"
    assert "rows_read" not in same.counts
    assert snapshot(wrls, ("water",)) == before

    # A new file with the same values written differently (spelling of booleans, padding, row order)
    # changes no row: values are compared typed, not as the CSV's text.
    respelled = [r.replace("FALSE", "false").replace("TRUE", "t").replace(",1495,", ", 01495 ,") for r in ROWS]
    etag = upload(s3, bucket, *reversed(respelled))
    run = sync(wrls)
    assert run.status == "succeeded", run.error
    assert (run.counts["updated"], run.counts["unchanged"], run.counts["inserted"]) == (0, 3, 0)
    after = snapshot(wrls, ("water",))
    assert {t: d for t, d in after.items() if t != "water.application_state"} == {
        t: d for t, d in before.items() if t != "water.application_state"
    }
    assert stored_etag(wrls) == etag

    # One value changed and one category gone from the file: only that row is written; none is deleted.
    etag = upload(s3, bucket, ROWS[0].replace(",1495,", ",1500,"), ROWS[1])
    run = sync(wrls)
    assert run.status == "succeeded", run.error
    assert (run.counts["updated"], run.counts["unchanged"], run.counts["inserted"]) == (1, 1, 0)
    now = categories(wrls)
    assert now["4.1.1"].subsistence_charge == 1500 and now["4.1.1"].date_updated > rows["4.1.1"].date_updated
    assert [now[r].date_updated for r in ("4.1.2", "4.6.24")] == [rows[r].date_updated for r in ("4.1.2", "4.6.24")]
    assert stored_etag(wrls) == etag

    # force: the same file again, read and compared, changing nothing.
    before = snapshot(wrls, ("water",))
    forced = sync(wrls, {"force": True})
    assert forced.status == "succeeded", forced.error
    assert (forced.counts["updated"], forced.counts["unchanged"]) == (0, 2)
    assert snapshot(wrls, ("water",)) == before


BAD_FILES = [
    (
        "wrong type",
        [ROWS[0], ROWS[1].replace(",2990,", ",2990.50,")],
        "line 3, column subsistence_charge: '2990.50' is not a whole number",
    ),
    ("missing column", None, "line 1: the header lacks columns model_tier"),
    (
        "duplicate key",
        [ROWS[0], ROWS[1], ROWS[2].replace("4.6.24", "4.1.2")],
        "line 4, column reference: '4.1.2' is also on line 3",
    ),
    ("malformed CSV", [ROWS[0], '4.1.2,"2990'], "line 3: not valid CSV (unexpected end of data)"),
]


def test_a_bad_file_fails_the_run_naming_line_and_column_and_changes_nothing(started, s3, bucket):
    wrls = started
    missing = sync(wrls)
    assert missing.status == "failed" and f"s3://{bucket}/{KEY} does not exist" in missing.error
    good = upload(s3, bucket, *ROWS)
    assert sync(wrls).status == "succeeded"
    before = snapshot(wrls, ("water",))

    for name, lines, message in BAD_FILES:
        if lines is None:  # the header and every row without model_tier
            body = "\n".join(",".join(f for i, f in enumerate(line.split(",")) if i != 8) for line in [HEADER, *ROWS])
            s3.client().put_object(Bucket=bucket, Key=KEY, Body=body.encode())
        else:
            upload(s3, bucket, *(r.replace("1495", "1600") for r in lines))  # a change that must not land
        run = sync(wrls)
        assert run.status == "failed", name
        assert f"{KEY}: 1 problem, nothing applied: {message}" in run.error, (name, run.error)
        assert (
            scalar(wrls, "SELECT count(*) FROM jobs.events WHERE run_id = :r AND kind = 'retrying'", r=run.run_id) == 0
        )  # bad input is not retried
        assert snapshot(wrls, ("water",)) == before, name
        assert stored_etag(wrls) == good
