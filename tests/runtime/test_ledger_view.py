"""What a job may read of the ledger (ledger_view.LedgerView): ticks claimed, last starts, event counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.support.helpers import add_run
from wrls_actors.runtime import LedgerView

NIGHT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 01:00 in London (GMT)


def test_ticks_claimed_last_starts_and_event_counts_read_as_plain_data(service):
    ledger = LedgerView(service.engine)
    assert not ledger.tick_claimed("loader", NIGHT)
    with service.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO jobs.ticks (schedule, nominal_time, outcome) VALUES ('loader', :n, 'skipped')"),
            {"n": NIGHT},
        )
        connection.execute(
            text(
                "INSERT INTO jobs.events (kind, job, at) VALUES ('failed', 'loader', :a), "
                "('failed', 'loader', :b), ('stalled', 'other', :a), ('failed', 'loader', :c)"
            ),
            {"a": NIGHT, "b": NIGHT + timedelta(hours=1), "c": NIGHT + timedelta(days=1)},
        )
    assert ledger.tick_claimed("loader", NIGHT) and not ledger.tick_claimed("loader", NIGHT + timedelta(days=1))

    done = add_run(service, "loader", status="succeeded", started="now() - interval '2 hours'")
    add_run(service, "loader", status="failed", started="now() - interval '1 hour'")
    done_at = ledger.run(done).started_at
    now = datetime.now(UTC)
    assert ledger.last_started("loader", now, status="succeeded") == done_at
    assert ledger.last_started("loader", now) > done_at
    assert ledger.last_started("loader", done_at) is None

    counts = ledger.event_counts(NIGHT, NIGHT + timedelta(hours=2), ["failed"])
    assert [(c.job, c.kind, c.count, c.first, c.last) for c in counts] == [
        ("loader", "failed", 2, NIGHT, NIGHT + timedelta(hours=1))
    ]
